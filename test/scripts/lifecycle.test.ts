// Retraining from the store and the promotion gate, on a SQLite store filled through the store's own API.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promote, PromoteError } from '../../scripts/promote.js';
import { train, TrainError } from '../../scripts/train.js';
import type { LabelledLead } from '../../src/features/lead.js';
import { loadArtifact, publishArtifact, readArtifact, sealArtifact, type Artifact } from '../../src/model/artifact.js';
import { judgeCandidate } from '../../src/model/gate.js';
import { rocAuc } from '../../src/model/metrics.js';
import { Scorer } from '../../src/model/scorer.js';
import { leadsFingerprint } from '../../src/model/training-set.js';
import { splitByDate, trainLeadModel } from '../../src/model/training.js';
import { buildApp, servingModel } from '../../src/server/app.js';
import { ModelHolder } from '../../src/server/models.js';
import { openStore, type Store } from '../../src/store/index.js';
import { generateLeads, writeOlistFolder, mqlCsv, dealsCsv } from '../fixtures/olist.js';
import { keyFor, testConfig } from '../server/helper.js';

const quiet = { stdout: () => {}, stderr: () => {} };
const NOW = new Date('2026-03-04T05:06:07Z');
const ADMIN = 'admin-key-0123456789abcdef';

let dir: string;
let storeUrl: string;
let leads: LabelledLead[];
/** The store's outcome differs from the files' for these leads. */
let flipped: Set<string>;
let pendingMonth: string;
/**
 * Trained on every lead before 2018-03-01 (nine months); on the first three months only; the
 * first with its intercept moved. On these leads the nine-month model is the better one by both
 * measures the gate reads (March–May: ROC AUC +0.033, Brier −0.0009).
 */
let good: Artifact;
let weak: Artifact;
let shifted: Artifact;

const trainBefore = (until: string, options: Parameters<typeof trainLeadModel>[1]) =>
  trainLeadModel({ leads: splitByDate(leads, until).before, files: [{ file: 'generated.csv', sha256: '0'.repeat(64), rows: leads.length }], rejectedRows: 0 }, { now: NOW, ...options }).artifact;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'leadscore-lifecycle-'));
  leads = generateLeads(2400, 12);
  storeUrl = `sqlite:${path.join(dir, 'scores.db')}`;
  // Filled the way the service fills it: scores in request-sized batches, then the CRM's outcomes.
  const store = (await openStore({ kind: 'sqlite', path: path.join(dir, 'scores.db'), synchronous: 'normal' }))!;
  for (let i = 0; i < leads.length; i += 500) {
    const batch = leads.slice(i, i + 500).map(({ converted: _c, won_date: _w, ...lead }) => ({ ...lead, probability: 0.1, tier: 'C' as const }));
    await store.recordScores({ request_id: `fill-${i}`, scored_at: new Date(Date.UTC(2018, 5, 1) + i), model_version: 'fixture', leads: batch });
  }
  // Before 2018: a few outcomes the CRM reports otherwise than the files (a won deal reported lost, a lost lead won).
  const early = leads.filter((lead) => lead.first_contact_date < '2018-01-01');
  flipped = new Set([...early.filter((l) => l.converted).slice(0, 3), ...early.filter((l) => !l.converted).slice(0, 4)].map((l) => l.mql_id));
  await store.recordOutcomes(
    leads
      .filter((lead) => lead.converted !== flipped.has(lead.mql_id) || lead.mql_id.endsWith('0'))
      .map((lead) => ({ mql_id: lead.mql_id, won_date: lead.won_date ?? `${lead.first_contact_date} 09:00:00`, converted: lead.converted !== flipped.has(lead.mql_id) })),
  );
  // Leads first contacted days ago, with no outcome yet: left out of training, and said so.
  const recent = new Date(Date.now() - 3 * 86_400_000).toISOString().slice(0, 10);
  const pending = Array.from({ length: 5 }, (_, i) => ({ mql_id: `pending-${i}`, first_contact_date: recent, landing_page_id: leads[i]!.landing_page_id, origin: null, probability: 0.1, tier: 'C' as const }));
  await store.recordScores({ request_id: 'fill-pending', scored_at: new Date(), model_version: 'fixture', leads: pending });
  pendingMonth = recent.slice(0, 7);
  await store.close();
  // The leads the store reports lost by the horizon (no outcome for 180 days) count as lost: training sees the files' labels, but for the flipped leads.
  leads = leads.map((lead) => (flipped.has(lead.mql_id) ? { ...lead, converted: !lead.converted } : lead));
  good = trainBefore('2018-03-01', { holdoutFrom: '2018-01-01' });
  weak = trainBefore('2017-09-01', { holdoutFrom: '2017-08-01', rollingOriginMonths: 1, cvFolds: 3 });
  const { sha256: _sha, ...body } = good;
  shifted = sealArtifact({ ...body, model_version: `${good.model_version}-shifted`, model: { ...body.model, intercept: body.model.intercept + 0.8 } });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A models folder holding the given artifacts, the first of them the default. */
async function modelsFolder(...artifacts: Artifact[]): Promise<string> {
  const folder = mkdtempSync(path.join(dir, 'models-'));
  for (const [i, artifact] of artifacts.entries()) await publishArtifact(artifact, folder, { makeDefault: i === 0 });
  return folder;
}
const pointer = (folder: string) => readFileSync(path.join(folder, 'latest.json'), 'utf8');
// 200 resamples: the intervals are printed, never decided on, and the tests need not wait for 1,000.
const gate = (folder: string, version: string, ...extra: string[]) => promote([version, '--store-url', storeUrl, '--models', folder, '--resamples', '200', ...extra], { stdout: () => {}, env: {} });

describe('npm run train -- --from-store', () => {
  it('trains on the scored leads with known outcomes, horizon-lost ones as lost, into a new artifact without moving the default', async () => {
    const out = await modelsFolder(weak);
    const before = pointer(out);
    const lines: string[] = [];
    const file = await train(['--from-store', '--store-url', storeUrl, '--out', out], { stdout: () => {}, stderr: (text) => lines.push(text), env: {} });
    expect(lines.join('')).toContain(`5 scored leads have no outcome yet and are left out (by month of first contact: ${pendingMonth} 5)`);
    const artifact = await readArtifact(file);
    expect(pointer(out)).toBe(before);
    expect(artifact.training_data).toMatchObject({ leads: leads.length, converted: leads.filter((l) => l.converted).length, files: [] });
    expect(artifact.training_data.sources).toEqual([
      { kind: 'store', location: storeUrl, leads: leads.length, converted: leads.filter((l) => l.converted).length, sha256: leadsFingerprint(leads), used: leads.length },
    ]);
    // The holdout follows the data: its last two months.
    expect(artifact.metrics.holdout_from).toBe('2018-04-01');
    expect(readdirSync(out).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    // The same leads the same day give the same model: refused rather than overwritten.
    await expect(train(['--from-store', '--store-url', storeUrl, '--out', out], { ...quiet, env: {} })).rejects.toThrow(/already exists: the same leads gave the same model today; nothing was written/);
  });

  it('adds the Olist files, the store’s outcome winning for a lead in both, and moves the default only with --make-default', async () => {
    const files = generateLeads(2400, 12); // the files as exported: the flipped leads with their original outcome
    const extra = generateLeads(300, 13); // leads only the files hold
    const data = writeOlistFolder({ mql: mqlCsv([...files, ...extra]), deals: dealsCsv([...files, ...extra]) });
    const out = await modelsFolder(weak);
    const lines: string[] = [];
    const file = await train(['--from-store', '--store-url', storeUrl, '--data', data, '--out', out, '--make-default'], { stdout: () => {}, stderr: (text) => lines.push(text), env: {} });
    const artifact = await readArtifact(file);
    const combined = [...leads, ...extra];
    expect(artifact.training_data).toMatchObject({ leads: combined.length, converted: combined.filter((l) => l.converted).length });
    expect(artifact.training_data.sources![1]).toMatchObject({ kind: 'files', leads: files.length + extra.length, used: extra.length, shared_with_store: files.length, outcome_changed_by_store: flipped.size });
    expect(lines.join('')).toMatch(new RegExp(`${files.length} are in both, and for those the store's record and outcome are used \\(it changed ${flipped.size} outcome\\(s\\) of the files\\)`));
    expect((await loadArtifact(out)).file).toBe(file);
  });

  it('refuses what it cannot use, by name', async () => {
    const out = await modelsFolder(weak);
    await expect(train(['--from-store'], { ...quiet, env: { STORE_URL: 'none' } })).rejects.toThrow(new TrainError('the store is off (STORE_URL=none): there is nothing to train from; pass --store-url <url>'));
    await expect(train(['--from-store', '--store-url', 'mysql://x'], { ...quiet, env: {} })).rejects.toThrow(/^--store-url: must be sqlite:<path>, postgres:\/\/… or none/);
    await expect(train(['--from-store'], { ...quiet, env: { MODEL_PATH: path.join(out, 'one.json'), STORE_URL: storeUrl } })).rejects.toThrow(/MODEL_PATH names one artifact file .*pass --out <folder>/);
    await expect(train(['--from-store'], { ...quiet, env: { OUTCOME_HORIZON_DAYS: 'soon' } })).rejects.toThrow(/^invalid configuration: OUTCOME_HORIZON_DAYS must be a whole number/);
    await expect(train(['--store-url', storeUrl], quiet)).rejects.toThrow(new TrainError('--store-url goes with --from-store'));
    const missing = path.join(dir, 'mistyped.db');
    await expect(train(['--from-store', '--store-url', `sqlite:${missing}`, '--out', out], { ...quiet, env: {} })).rejects.toThrow(`there is no store at ${missing}`);
    expect(existsSync(missing)).toBe(false);
    const empty = path.join(dir, 'empty.db');
    await (await openStore({ kind: 'sqlite', path: empty, synchronous: 'normal' }))!.close();
    await expect(train(['--from-store', '--store-url', `sqlite:${empty}`, '--out', out], { ...quiet, env: {} })).rejects.toThrow(/holds no scored lead with a known outcome: POST \/outcomes first, or add --data/);
  });
});

describe('npm run promote', () => {
  it('promotes a better model over the champion, on the leads neither trained on', async () => {
    const folder = await modelsFolder(weak, good);
    const printed: string[] = [];
    const result = await promote([good.model_version, '--store-url', storeUrl, '--models', folder, '--resamples', '200'], { stdout: (text) => printed.push(text), env: {} });
    expect(result.promoted).toBe(true);
    const comparable = leads.filter((lead) => lead.first_contact_date >= '2018-03-01');
    expect(result.verdict).toMatchObject({ from: '2018-03-01', leads: comparable.length, converted: comparable.filter((l) => l.converted).length });
    expect(result.verdict!.comparison!.roc_auc.difference).toBeGreaterThan(0);
    expect((await loadArtifact(folder)).artifact.model_version).toBe(good.model_version);
    expect(printed.join('')).toMatch(new RegExp(`${comparable.length} stored leads with a known outcome first contacted on or after 2018-03-01 \\(2018-03-01 … 2018-05-3\\d\\), \\d+ converted: neither model trained on them`));
  });

  it('refuses a worse model and leaves latest.json as it was', async () => {
    const folder = await modelsFolder(good, weak);
    const before = pointer(folder);
    const refusal = await gate(folder, weak.model_version).catch((error: Error) => error);
    expect(refusal).toBeInstanceOf(PromoteError);
    expect((refusal as Error).message).toMatch(new RegExp(`^refused ${weak.model_version}: ROC AUC gain −0\\.\\d{4} is below the minimum \\+0\\.0000 \\(--min-auc-gain\\).* still names ${good.model_version}$`));
    expect(pointer(folder)).toBe(before);
  });

  it('refuses a model that ranks as well but is worse calibrated (the Brier margin)', async () => {
    const folder = await modelsFolder(good, shifted);
    const before = pointer(folder);
    await expect(gate(folder, shifted.model_version)).rejects.toThrow(/^refused .*-shifted: Brier loss \+0\.\d{5} is above the maximum \+0\.00000 \(--max-brier-loss\)\. /);
    expect(pointer(folder)).toBe(before);
    // A margin wide enough lets it through: the gate is the margins, nothing else.
    expect((await gate(folder, shifted.model_version, '--max-brier-loss', '0.5')).promoted).toBe(true);
  });

  it('refuses when too few comparable leads have an outcome, or none converted', async () => {
    const folder = await modelsFolder(weak, good);
    const before = pointer(folder);
    await expect(gate(folder, good.model_version, '--min-leads', '100000')).rejects.toThrow(/^refused .*: only \d+ stored lead\(s\) with a known outcome were first contacted on or after 2018-03-01, the day after the later model's training data ends; the gate needs at least 100000 \(--min-leads\)/);
    expect(pointer(folder)).toBe(before);
    const lost = leads.filter((lead) => lead.first_contact_date >= '2018-03-01').map((lead) => ({ ...lead, converted: false }));
    expect(judgeCandidate(weak, good, lost).reasons).toEqual([`the ${lost.length} comparable leads (first contacted on or after 2018-03-01, the day after the later model's training data ends) hold no conversion, so ROC AUC is undefined`]);
    await expect(gate(folder, 'no-such-version')).rejects.toThrow(/no verified artifact of version "no-such-version"/);
    await expect(gate(folder, good.model_version, '--min-auc-gain', 'lots')).rejects.toThrow(new PromoteError('--min-auc-gain must be a number from -1 to 1, got "lots"'));
    await expect(promote([good.model_version, '--models', folder], { stdout: () => {}, env: { STORE_URL: 'none' } })).rejects.toThrow(/the store is off/);
  });

  it('promotes a model trained --from-store, then reloads the running service with --url', async () => {
    const folder = await modelsFolder(weak);
    // STORE_URL and MODEL_PATH as the server reads them; the holdout follows the data (the two months before --until).
    const file = await train(['--from-store', '--until', '2018-03-01'], { ...quiet, env: { STORE_URL: storeUrl, MODEL_PATH: folder } });
    expect(path.dirname(file)).toBe(folder);
    const candidate = await readArtifact(file);
    expect(candidate.training_data.first_contact_to < '2018-03-01').toBe(true);
    expect(candidate.metrics.holdout_from).toBe('2018-01-01');
    expect((await loadArtifact(folder)).artifact.model_version).toBe(weak.model_version);

    const models = new ModelHolder(servingModel(weak), () => loadArtifact(folder));
    const app = await buildApp({ config: testConfig({ apiKeys: [keyFor(ADMIN, ['admin', 'read'])], modelPath: folder }), model: models, logger: pino({ level: 'silent' }) });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    try {
      // A wrong key: promoted on disk, and the command says the service did not follow.
      const other = await modelsFolder(weak, good);
      await expect(gate(other, good.model_version, '--url', url, '--key', 'not-the-admin-key-0123')).rejects.toThrow(/is the default on disk, but the service did not reload: .*answered 401/);

      const result = await gate(folder, candidate.model_version, '--url', url, '--key', ADMIN);
      expect(result).toMatchObject({ promoted: true, reloaded: { model_version: candidate.model_version, previous_version: weak.model_version, processes: 1 } });
      const health = await (await fetch(`${url}/health`)).json();
      expect(health.model.version).toBe(candidate.model_version);
    } finally {
      await app.close();
    }
  });
});

describe('the gate compares on what neither model saw', () => {
  it('starts the day after the later model’s training data, whatever leads it is given, and scores with the service’s scorer', () => {
    const verdict = judgeCandidate(weak, good, leads, { minAucGain: 0, maxBrierLoss: 0, minLeads: 1 }, { resamples: 100 });
    const comparable = leads.filter((lead) => lead.first_contact_date >= '2018-03-01');
    expect(verdict).toMatchObject({ from: '2018-03-01', leads: comparable.length, first_contact_from: '2018-03-01' });
    const labels = Uint8Array.from(comparable, (lead) => (lead.converted ? 1 : 0));
    const scorer = new Scorer(good);
    expect(verdict.comparison!.roc_auc.challenger).toBe(rocAuc(labels, Float64Array.from(comparable, (lead) => scorer.probability(lead))));
    expect(verdict.comparison!.roc_auc.interval[0]).toBeLessThanOrEqual(verdict.comparison!.roc_auc.difference);
    expect(verdict.comparison!.roc_auc.interval[1]).toBeGreaterThanOrEqual(verdict.comparison!.roc_auc.difference);
  });
});
