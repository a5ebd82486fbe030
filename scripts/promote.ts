// npm run promote -- <version> [--min-auc-gain 0] [--max-brier-loss 0] [--min-leads 200] [--resamples 1000]
//                    [--store-url <url>] [--models <folder>] [--url http://host:port --key <admin key>]
// The promotion gate: the candidate against the champion (latest.json) on the stored leads with
// known outcomes that neither model trained on; promotes, and reloads the running service, only
// when the candidate is not worse by the margins. Exit 0 when promoted (or already the champion),
// 1 when refused or on any error.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { loadArtifact, POINTER_FILE, type Artifact } from '../src/model/artifact.js';
import { findArtifact, promoteArtifact } from '../src/model/catalog.js';
import type { PairedMetric } from '../src/model/compare.js';
import { comparisonStart, DEFAULT_MARGINS, judgeCandidate, type GateMargins, type GateVerdict } from '../src/model/gate.js';
import { ConfigError, loadConfig } from '../src/server/config.js';
import { COMMAND_READ_TIMEOUT_MS, describeLocation, openStore, parseStoreOption, StoreConfigError, type StoreLocation } from '../src/store/index.js';

/** A refusal or a failure, reported as one line and exit code 1. */
export class PromoteError extends Error {}

export interface PromoteIo {
  stdout?: (text: string) => void;
  /** The environment STORE_URL, MODEL_PATH and OUTCOME_HORIZON_DAYS are read from, as the server reads them (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** The HTTP client for --url (default the global fetch). */
  fetch?: typeof fetch;
}

export interface PromoteResult {
  champion: string;
  candidate: string;
  verdict: GateVerdict | null;
  promoted: boolean;
  /** The running service's answer to the reload, with --url. */
  reloaded?: { model_version: string; previous_version: string; processes: number };
}

/** Bearer key for --url when --key is not given: keeps it out of the process list. */
export const ADMIN_KEY_VARIABLE = 'LEADSCORE_ADMIN_KEY';

function margin(name: string, text: string | undefined, fallback: number, check: (x: number) => boolean, rule: string): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || !check(value)) throw new PromoteError(`--${name} must be ${rule}, got "${text}"`);
  return value;
}

const f = (x: number, digits: number) => x.toFixed(digits);
const sf = (x: number, digits: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(digits)}`;
const trained = (artifact: Artifact) => `trained on ${artifact.training_data.leads} leads first contacted ${artifact.training_data.first_contact_from} … ${artifact.training_data.first_contact_to}`;

/** The gate's figures as the command prints them. */
export function describeVerdict(verdict: GateVerdict, champion: Artifact, candidate: Artifact): string {
  const lines = [
    `champion   ${champion.model_version} (${trained(champion)})`,
    `candidate  ${candidate.model_version} (${trained(candidate)})`,
    `leads      ${verdict.leads} stored leads with a known outcome first contacted on or after ${verdict.from}` +
      (verdict.leads ? ` (${verdict.first_contact_from} … ${verdict.first_contact_to}), ${verdict.converted} converted` : '') +
      ': neither model trained on them',
  ];
  const c = verdict.comparison;
  if (c) {
    const row = (name: string, m: PairedMetric, digits: number) =>
      `  ${name.padEnd(10)} ${f(m.champion, digits).padStart(9)} ${f(m.challenger, digits).padStart(10)} ${sf(m.difference, digits).padStart(11)}   [${sf(m.interval[0], digits)}, ${sf(m.interval[1], digits)}]`;
    lines.push(
      `  ${''.padEnd(10)} ${'champion'.padStart(9)} ${'candidate'.padStart(10)} ${'difference'.padStart(11)}   95 % interval (paired bootstrap, ${c.resamples} resamples)`,
      row('ROC AUC', c.roc_auc, 4),
      row('Brier', c.brier, 5),
      row('log loss', c.log_loss, 4),
      `  ${c.tier_changes} of ${c.leads} leads would change tier`,
    );
  }
  return `${lines.join('\n')}\n`;
}

async function reload(url: string, key: string, client: typeof fetch): Promise<PromoteResult['reloaded']> {
  const endpoint = `${url.replace(/\/+$/, '')}/admin/model/reload`;
  let response: Response;
  try {
    response = await client(endpoint, { method: 'POST', headers: { authorization: `Bearer ${key}` }, signal: AbortSignal.timeout(30_000) });
  } catch (error) {
    throw new Error(`cannot reach ${endpoint} (${(error as Error).cause ? String((error as { cause: unknown }).cause) : (error as Error).message})`);
  }
  const text = await response.text();
  let body: { message?: string; model_version?: string; previous_version?: string; processes?: number } = {};
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: the status line says enough
  }
  if (!response.ok) throw new Error(`${endpoint} answered ${response.status}${body.message ? `: ${body.message}` : ''}`);
  return { model_version: String(body.model_version), previous_version: String(body.previous_version), processes: Number(body.processes) };
}

export async function promote(argv: string[], io: PromoteIo = {}): Promise<PromoteResult> {
  const stdout = io.stdout ?? ((text: string) => process.stdout.write(text));
  const env = io.env ?? process.env;
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'min-auc-gain': { type: 'string' },
        'max-brier-loss': { type: 'string' },
        'min-leads': { type: 'string' },
        resamples: { type: 'string' },
        'store-url': { type: 'string' },
        models: { type: 'string' },
        url: { type: 'string' },
        key: { type: 'string' },
      },
    });
  } catch (error) {
    throw new PromoteError((error as Error).message);
  }
  const { values: args, positionals } = parsed;
  if (positionals.length !== 1) throw new PromoteError('name one version to promote: npm run promote -- <version> [--min-auc-gain 0] [--max-brier-loss 0] [--url http://host:port --key <admin key>]');
  const version = positionals[0]!;
  const margins: GateMargins = {
    minAucGain: margin('min-auc-gain', args['min-auc-gain'], DEFAULT_MARGINS.minAucGain, (x) => x >= -1 && x <= 1, 'a number from -1 to 1'),
    maxBrierLoss: margin('max-brier-loss', args['max-brier-loss'], DEFAULT_MARGINS.maxBrierLoss, (x) => x >= -1 && x <= 1, 'a number from -1 to 1'),
    minLeads: margin('min-leads', args['min-leads'], DEFAULT_MARGINS.minLeads, (x) => Number.isInteger(x) && x >= 1, 'a whole number, at least 1'),
  };
  // As GET /model/compare: 1,000 paired resamples by default, 100 to 10,000.
  const resamples = margin('resamples', args.resamples, 1000, (x) => Number.isInteger(x) && x >= 100 && x <= 10_000, 'a whole number from 100 to 10000');
  const key = args.key ?? env[ADMIN_KEY_VARIABLE];
  if (args.url !== undefined) {
    if (!/^https?:\/\/[^/]/.test(args.url)) throw new PromoteError(`--url must be the service's address, http://host:port, got "${args.url}"`);
    if (!key) throw new PromoteError(`--url needs an admin key: --key <key>, or ${ADMIN_KEY_VARIABLE} in the environment`);
  }

  // Where the server looks: STORE_URL and MODEL_PATH as it reads and validates them.
  let config;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) throw new PromoteError(error.message);
    throw error;
  }
  let location: StoreLocation = config.store;
  if (args['store-url'] !== undefined) {
    try {
      location = parseStoreOption(args['store-url']);
    } catch (error) {
      if (error instanceof StoreConfigError) throw new PromoteError(error.message);
      throw error;
    }
  }
  if (location.kind === 'none') throw new PromoteError('the store is off (STORE_URL=none): there are no outcomes to compare the models on; pass --store-url <url>');
  // Opening a SQLite store creates it: a mistyped path would compare on nothing and leave an empty file behind.
  if (location.kind === 'sqlite' && !existsSync(location.path)) throw new PromoteError(`there is no store at ${location.path}: point --store-url (or STORE_URL) at the service's store`);
  let models = args.models ?? config.modelPath;
  if (path.basename(models) === POINTER_FILE) models = path.dirname(models);
  if (models.endsWith('.json')) throw new PromoteError(`${models} is one artifact file; promotion needs a models folder with a ${POINTER_FILE} (--models <folder>)`);

  const refuse = (message: string): never => {
    throw new PromoteError(message);
  };
  const champion = await loadArtifact(models).catch((error: Error) => refuse(`cannot read the champion: ${error.message}`));
  const candidate = await findArtifact(models, version).catch((error: Error) => refuse(error.message));
  const result: PromoteResult = { champion: champion.artifact.model_version, candidate: version, verdict: null, promoted: false };
  if (champion.artifact.model_version === version) {
    stdout(`${version} is already the champion (${path.join(models, POINTER_FILE)}); nothing to do\n`);
    return result;
  }

  const from = comparisonStart(champion.artifact, candidate.artifact);
  const store = (await openStore(location, { outcomeHorizonDays: config.outcomeHorizonDays, readTimeoutMs: COMMAND_READ_TIMEOUT_MS }))!;
  let leads;
  try {
    leads = await store.labelledLeads({ first_contact_from: from });
  } finally {
    await store.close();
  }
  stdout(`store      ${describeLocation(location)} (a lead with no outcome ${config.outcomeHorizonDays} days after first contact counts as lost)\n`);
  const verdict = judgeCandidate(champion.artifact, candidate.artifact, leads, margins, { resamples });
  result.verdict = verdict;
  stdout(describeVerdict(verdict, champion.artifact, candidate.artifact));
  if (!verdict.promote) {
    refuse(`refused ${version}: ${verdict.reasons.join('; ')}. ${path.join(models, POINTER_FILE)} still names ${champion.artifact.model_version}`);
  }
  stdout(`gate       passed: ROC AUC gain ${sf(verdict.comparison!.roc_auc.difference, 4)} ≥ ${sf(margins.minAucGain, 4)}, Brier loss ${sf(verdict.comparison!.brier.difference, 5)} ≤ ${sf(margins.maxBrierLoss, 5)}\n`);
  await promoteArtifact(models, version).catch((error: Error) => refuse(`the gate passed but ${version} could not be made the default: ${error.message}`));
  result.promoted = true;
  stdout(`promoted   ${version}: ${path.join(models, POINTER_FILE)} now names ${path.basename(candidate.file)}\n`);
  if (args.url !== undefined) {
    try {
      result.reloaded = await reload(args.url, key!, io.fetch ?? fetch);
    } catch (error) {
      refuse(`${version} is the default on disk, but the service did not reload: ${(error as Error).message}; it serves the old model until it reloads (POST /admin/model/reload, or SIGHUP)`);
    }
    stdout(`reloaded   ${args.url}: serving ${result.reloaded!.model_version} in ${result.reloaded!.processes} process(es), was ${result.reloaded!.previous_version}\n`);
  }
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  promote(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`promote: ${(error as Error).message}\n`);
    process.exit(1);
  });
}
