// The real Olist data replayed through the service and its store, on SQLite and (with TEST_POSTGRES_URL) PostgreSQL.
//   npx tsx scripts/ci/replay.ts [--data ../shared/data/olist]
// (a) every lead scored through the API (mixed /predict and /batch-predict, JSON and CSV), the
//     closed-deals file POSTed to /outcomes exactly as it is; the dashboards' API must give back
//     exactly those scores, and /model/performance the AUC and Brier they and the real labels give.
// (b) the model lifecycle: a champion trained before 2018-01-01 and a challenger trained before
//     2018-04-01 score the April–May 2018 leads; /model/compare must match the stored scores; a
//     retrain from the store and the promotion gate promote the better model and refuse worse ones.
// Run by .ci/run when the data is beside the project. Exit 1 on any mismatch.
import { randomBytes } from 'node:crypto';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { promote, PromoteError } from '../promote.js';
import { train } from '../train.js';
import { DEALS_FILE, loadOlist, type OlistData } from '../../src/data/olist.js';
import { isoDay, LEAD_COLUMNS, type LabelledLead, type Lead } from '../../src/features/lead.js';
import { loadArtifact, publishArtifact, readArtifact, type Artifact } from '../../src/model/artifact.js';
import { findArtifact } from '../../src/model/catalog.js';
import { Scorer } from '../../src/model/scorer.js';
import { splitByDate, trainLeadModel, type TrainingOptions } from '../../src/model/training.js';
import { buildApp, servingModel } from '../../src/server/app.js';
import { loadConfig, projectRoot } from '../../src/server/config.js';
import { ModelHolder } from '../../src/server/models.js';
import { openStore, type StoreLocation } from '../../src/store/index.js';

const { values: args } = parseArgs({ options: { data: { type: 'string', default: '../shared/data/olist' } } });
const ADMIN_KEY = `replay-admin-${randomBytes(12).toString('hex')}`;
const TOLERANCE = 1e-9;

const started = performance.now();
const clock = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
const say = (message: string) => console.log(`replay [${clock()}] ${message}`);
const failures: string[] = [];
let checks = 0;
/** One comparison; a mismatch is printed and counted, and the replay goes on so every mismatch shows. */
function check(what: string, ok: boolean, detail = ''): boolean {
  checks++;
  if (!ok) {
    failures.push(what);
    // Per-lead checks could print thousands of lines: the first 20 say what is wrong.
    if (failures.length <= 20) console.error(`replay: MISMATCH ${what}${detail ? `: ${detail}` : ''}`);
    else if (failures.length === 21) console.error('replay: … further mismatches are counted, not printed');
  }
  return ok;
}
const close = (a: number | null | undefined, b: number) => typeof a === 'number' && Math.abs(a - b) <= TOLERANCE;
const f = (x: number, digits = 4) => x.toFixed(digits);
const sf = (x: number, digits = 4) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(digits)}`;

// ---- metrics computed here, independently of src/model/metrics.ts, from the probabilities and labels

/** ROC AUC as the Mann–Whitney statistic with mid-ranks for ties. */
function aucOf(labels: readonly number[], scores: readonly number[]): number {
  const order = scores.map((_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const midRank = (i + j + 2) / 2;
    for (let k = i; k <= j; k++) if (labels[order[k]!]) {
      positives++;
      rankSum += midRank;
    }
    i = j + 1;
  }
  const negatives = labels.length - positives;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}
const brierOf = (labels: readonly number[], scores: readonly number[]) => scores.reduce((sum, p, i) => sum + (p - labels[i]!) ** 2, 0) / scores.length;
const logLossOf = (labels: readonly number[], scores: readonly number[]) => -scores.reduce((sum, p, i) => sum + (labels[i] ? Math.log(p) : Math.log(1 - p)), 0) / scores.length;

// ---- HTTP

interface Client {
  url: string;
  request(method: string, route: string, body?: string | object, headers?: Record<string, string>): Promise<{ status: number; text: string; json: () => any }>;
}

function client(url: string): Client {
  return {
    url,
    async request(method, route, body, headers = {}) {
      const isText = typeof body === 'string';
      const response = await fetch(`${url}${route}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body === undefined ? {} : { 'content-type': isText ? 'text/csv' : 'application/json' }), ...headers },
        body: body === undefined ? undefined : isText ? body : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, text, json: () => JSON.parse(text) };
    },
  };
}

const fields = (lead: Lead) => ({ mql_id: lead.mql_id, first_contact_date: lead.first_contact_date, landing_page_id: lead.landing_page_id, origin: lead.origin });
const csvField = (value: string) => (/[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value);
const leadsCsv = (leads: readonly Lead[]) => [LEAD_COLUMNS.join(','), ...leads.map((l) => [l.mql_id, l.first_contact_date, l.landing_page_id, l.origin ?? ''].map(csvField).join(','))].join('\n') + '\n';

interface Scored {
  probability: number;
  tier: string;
  model_version: string;
}

/**
 * Scores the leads as CRMs and dashboards do: every eighth lead alone on /predict, the rest in
 * /batch-predict requests of up to 500 taking turns as JSON → JSON, CSV → JSON and CSV → CSV;
 * four requests in flight at a time, so concurrent writes are grouped in the store.
 */
async function scoreThroughApi(api: Client, leads: readonly Lead[]): Promise<{ scores: Map<string, Scored>; requests: { predict: number; batches: number } }> {
  const single = leads.filter((_, i) => i % 8 === 0);
  const rest = leads.filter((_, i) => i % 8 !== 0);
  const jobs: (() => Promise<void>)[] = [];
  const scores = new Map<string, Scored>();
  const keep = (id: string, scored: Scored) => {
    check(`${id} is returned once`, !scores.has(id));
    scores.set(id, scored);
  };
  for (const lead of single) {
    jobs.push(async () => {
      const response = await api.request('POST', '/predict', fields(lead));
      if (!check(`/predict ${lead.mql_id} answers 200`, response.status === 200, response.text.slice(0, 200))) return;
      const body = response.json();
      keep(body.mql_id, { probability: body.probability, tier: body.tier, model_version: body.model_version });
    });
  }
  let batches = 0;
  for (let i = 0; i < rest.length; i += 500) {
    const batch = rest.slice(i, i + 500);
    const form = batches++ % 3;
    jobs.push(async () => {
      const response =
        form === 0
          ? await api.request('POST', '/batch-predict', { leads: batch.map(fields) })
          : await api.request('POST', '/batch-predict', leadsCsv(batch), form === 2 ? { accept: 'text/csv' } : {});
      if (!check(`a /batch-predict of ${batch.length} leads answers 200`, response.status === 200, response.text.slice(0, 200))) return;
      if (form === 2) {
        const [header, ...rows] = response.text.trim().split('\n');
        check('the CSV answer has the documented columns', header === 'mql_id,probability,tier,model_version', header);
        for (const row of rows) {
          const [id, probability, tier, version] = row.split(',');
          keep(id!, { probability: Number(probability), tier: tier!, model_version: version! });
        }
      } else {
        const body = response.json();
        for (const p of body.predictions) keep(p.mql_id, { probability: p.probability, tier: p.tier, model_version: body.model_version });
      }
    });
  }
  let next = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < jobs.length) await jobs[next++]!();
  }));
  return { scores, requests: { predict: single.length, batches } };
}

// ---- the models, trained once on the real data with the training code

function trainOn(data: OlistData, until: string, options: TrainingOptions): Artifact {
  const leads = splitByDate(data.leads, until).before;
  return trainLeadModel({ leads, files: data.files, rejectedRows: data.problems.length }, options).artifact;
}

interface Models {
  shipped: Artifact;
  champion: Artifact;
  challenger: Artifact;
  worse: Artifact;
}

// ---- one backend

interface Figures {
  backend: string;
  a: { leads: number; predict: number; batches: number; pages: number; roc_auc: number; brier: number; seconds: number };
  b?: {
    compare: { leads: number; converted: number; champion_auc: number; challenger_auc: number; auc_interval: [number, number]; champion_brier: number; challenger_brier: number; brier_interval: [number, number]; tier_changes: number };
    retrained: { version: string; leads: number; converted: number; holdout_auc: number; max_weight_difference: number };
    promoted: { leads: number; converted: number; auc: [number, number]; brier: [number, number] };
    refused: { version: string; reason: string }[];
    seconds: number;
  };
}

async function replay(backend: string, location: StoreLocation, storeUrl: string, data: OlistData, deals: string, models: Models): Promise<Figures> {
  say(`${backend}: ${storeUrl.replace(/:[^:@/]*@/, '@')}`);
  const labelOf = new Map(data.leads.map((lead) => [lead.mql_id, lead.converted ? 1 : 0]));
  const folder = mkdtempSync(path.join(tmpdir(), 'leadscore-replay-models-'));
  await publishArtifact(models.shipped, folder);
  for (const artifact of [models.champion, models.challenger, models.worse]) await publishArtifact(artifact, folder, { makeDefault: false });
  const pointer = () => readFileSync(path.join(folder, 'latest.json'), 'utf8');

  const config = loadConfig({ API_KEYS: `${ADMIN_KEY}:admin+score+read+outcomes`, MODEL_PATH: folder, LOG_LEVEL: 'silent', MAX_EVENT_LOOP_DELAY_MS: '0' });
  const store = (await openStore(location, { outcomeHorizonDays: config.outcomeHorizonDays }))!;
  const holder = new ModelHolder(servingModel(models.shipped), () => loadArtifact(folder), (version) => findArtifact(folder, version));
  const app = await buildApp({ config, model: holder, store, logger: false, metrics: null });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const api = client(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}`);
  try {
    // ---- (a) every lead, then the closed deals as they are
    const aStarted = performance.now();
    const { scores, requests } = await scoreThroughApi(api, data.leads);
    check(`${backend}: every lead scored once`, scores.size === data.leads.length, `${scores.size} of ${data.leads.length}`);
    const outcomes = await api.request('POST', '/outcomes', deals);
    check(`${backend}: /outcomes takes the closed-deals file as it is`, outcomes.status === 200, outcomes.text.slice(0, 300));
    const deals_ = [...labelOf.values()].filter(Boolean).length;
    check(`${backend}: /outcomes receipt`, outcomes.text === JSON.stringify({ received: deals_, matched: deals_, unmatched: 0, updated: deals_ }), outcomes.text);

    let pages = 0;
    let cursor: string | null = null;
    const listed = new Map<string, { probability: number; tier: string; model_version: string; outcome: string }>();
    do {
      const page = await api.request('GET', `/predictions?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      if (!check(`${backend}: GET /predictions answers 200`, page.status === 200, page.text.slice(0, 200))) break;
      pages++;
      const body = page.json();
      for (const p of body.predictions) {
        check(`${backend}: ${p.mql_id} listed once`, !listed.has(p.mql_id));
        listed.set(p.mql_id, p);
      }
      cursor = body.next_cursor;
    } while (cursor);
    check(`${backend}: GET /predictions pages through exactly ${data.leads.length} current scores`, listed.size === data.leads.length, `${listed.size}`);
    let sameScores = 0;
    let sameOutcomes = 0;
    for (const [id, returned] of scores) {
      const stored = listed.get(id);
      if (stored && stored.probability === returned.probability && stored.tier === returned.tier && stored.model_version === returned.model_version) sameScores++;
      if (stored && stored.outcome === (labelOf.get(id) ? 'converted' : 'lost')) sameOutcomes++;
    }
    check(`${backend}: every stored score is the one returned, to the bit`, sameScores === data.leads.length, `${sameScores} of ${data.leads.length}`);
    check(`${backend}: every stored outcome is the real label (a lead without a deal lost by the horizon)`, sameOutcomes === data.leads.length, `${sameOutcomes}`);

    const summary = (await api.request('GET', '/predictions/summary?interval=day')).json();
    const sum = (pick: (b: any) => number) => summary.buckets.reduce((total: number, b: any) => total + pick(b), 0);
    const tierCounts = { A: 0, B: 0, C: 0, D: 0 } as Record<string, number>;
    for (const s of scores.values()) tierCounts[s.tier]!++;
    const probabilitySum = [...scores.values()].reduce((total, s) => total + s.probability, 0);
    check(`${backend}: summary leads add up to ${data.leads.length}`, sum((b) => b.leads) === data.leads.length, `${sum((b) => b.leads)}`);
    check(`${backend}: summary converted + lost add up`, sum((b) => b.converted) === deals_ && sum((b) => b.lost) === data.leads.length - deals_, `${sum((b) => b.converted)} + ${sum((b) => b.lost)}`);
    check(`${backend}: each bucket's tiers add up to its leads, and its rate is converted / leads`, summary.buckets.every((b: any) => b.tiers.A + b.tiers.B + b.tiers.C + b.tiers.D === b.leads && b.conversion_rate === b.converted / b.leads));
    check(`${backend}: summary tiers are the returned tiers`, (['A', 'B', 'C', 'D'] as const).every((t) => sum((b) => b.tiers[t]) === tierCounts[t]), JSON.stringify(tierCounts));
    check(`${backend}: summary mean probability`, Math.abs(sum((b) => b.mean_probability * b.leads) - probabilitySum) <= TOLERANCE * data.leads.length);

    const labels = data.leads.map((lead) => labelOf.get(lead.mql_id)!);
    const probabilities = data.leads.map((lead) => scores.get(lead.mql_id)!.probability);
    const auc = aucOf(labels, probabilities);
    const brier = brierOf(labels, probabilities);
    const performance_ = (await api.request('GET', '/model/performance')).json();
    check(`${backend}: /model/performance counts`, performance_.leads === data.leads.length && performance_.converted === deals_, `${performance_.leads} leads, ${performance_.converted} converted`);
    check(`${backend}: /model/performance ROC AUC = the returned probabilities' against the real labels (1e-9)`, close(performance_.roc_auc, auc), `${performance_.roc_auc} vs ${auc}`);
    check(`${backend}: /model/performance Brier (1e-9)`, close(performance_.brier, brier), `${performance_.brier} vs ${brier}`);
    check(`${backend}: /model/performance log loss (1e-9)`, close(performance_.log_loss, logLossOf(labels, probabilities)), `${performance_.log_loss}`);
    const a = { leads: listed.size, predict: requests.predict, batches: requests.batches, pages, roc_auc: auc, brier, seconds: (performance.now() - aStarted) / 1000 };
    say(`${backend} (a): ${a.leads} leads (${a.predict} /predict, ${a.batches} /batch-predict), ${pages} pages; /model/performance ROC AUC ${f(auc, 6)}, Brier ${f(brier, 6)} — equal to the figures computed here (1e-9)`);

    // ---- (b) champion and challenger, outcomes, retraining, the gate
    const bStarted = performance.now();
    // Every score of (a) was recorded before this instant and every score of (b) after it.
    const since = new Date(Date.now() + 1).toISOString();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const promoted = await api.request('POST', '/admin/model/promote', { version: models.champion.model_version });
    check(`${backend}: POST /admin/model/promote makes the champion serve`, promoted.status === 200 && promoted.json().model_version === models.champion.model_version, promoted.text);
    const challenger = await api.request('POST', '/admin/model/challenger', { version: models.challenger.model_version });
    check(`${backend}: POST /admin/model/challenger`, challenger.status === 200 && challenger.json().model_version === models.challenger.model_version, challenger.text);
    const spring = data.leads.filter((lead) => isoDay(lead.first_contact_date) >= '2018-04-01');
    const springScores = (await scoreThroughApi(api, spring)).scores;
    check(`${backend}: April–May scored by the champion only, as the client sees it`, [...springScores.values()].every((s) => s.model_version === models.champion.model_version));
    const again = await api.request('POST', '/outcomes', deals);
    check(`${backend}: the same outcomes again change nothing`, again.text === JSON.stringify({ received: deals_, matched: deals_, unmatched: 0, updated: 0 }), again.text);

    // What the store kept, lead by lead, against both models' own scorers.
    const champScorer = new Scorer(models.champion);
    const challScorer = new Scorer(models.challenger);
    const stored: { label: number; champion: number; challenger: number; championTier: string; challengerTier: string }[] = [];
    let next = 0;
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (next < spring.length) {
        const lead = spring[next++]!;
        const body = (await api.request('GET', `/predictions/${lead.mql_id}`)).json();
        const current = body.current;
        if (!check(`${backend}: ${lead.mql_id} stored with the challenger's score`, current?.model_version === models.champion.model_version && current?.challenger?.model_version === models.challenger.model_version)) continue;
        check(`${backend}: ${lead.mql_id} champion score as returned and as the scorer gives`, current.probability === springScores.get(lead.mql_id)?.probability && current.probability === champScorer.probability(lead));
        check(`${backend}: ${lead.mql_id} challenger score as the scorer gives`, current.challenger.probability === challScorer.probability(lead));
        check(`${backend}: ${lead.mql_id} keeps its earlier score`, body.history.length === 1 && body.history[0].model_version === models.shipped.model_version);
        stored.push({ label: labelOf.get(lead.mql_id)!, champion: current.probability, challenger: current.challenger.probability, championTier: current.tier, challengerTier: current.challenger.tier });
      }
    }));
    const ls = stored.map((s) => s.label);
    const mine = {
      champion_auc: aucOf(ls, stored.map((s) => s.champion)),
      challenger_auc: aucOf(ls, stored.map((s) => s.challenger)),
      champion_brier: brierOf(ls, stored.map((s) => s.champion)),
      challenger_brier: brierOf(ls, stored.map((s) => s.challenger)),
      champion_log_loss: logLossOf(ls, stored.map((s) => s.champion)),
      challenger_log_loss: logLossOf(ls, stored.map((s) => s.challenger)),
      tier_changes: stored.filter((s) => s.championTier !== s.challengerTier).length,
    };
    const compared = (await api.request('GET', `/model/compare?since=${encodeURIComponent(since)}`)).json();
    check(`${backend}: /model/compare leads and conversions`, compared.leads === spring.length && compared.converted === ls.filter(Boolean).length, `${compared.leads} leads, ${compared.converted} converted`);
    check(`${backend}: /model/compare versions`, JSON.stringify([compared.champion_versions, compared.challenger_versions]) === JSON.stringify([[models.champion.model_version], [models.challenger.model_version]]));
    for (const [metric, champion, challenger_] of [['roc_auc', mine.champion_auc, mine.challenger_auc], ['brier', mine.champion_brier, mine.challenger_brier], ['log_loss', mine.champion_log_loss, mine.challenger_log_loss]] as const) {
      const m = compared[metric];
      check(`${backend}: /model/compare ${metric} = the stored scores' (1e-9)`, close(m?.champion, champion) && close(m?.challenger, challenger_) && close(m?.difference, challenger_ - champion), `${JSON.stringify(m)} vs ${champion}, ${challenger_}`);
      check(`${backend}: /model/compare ${metric} interval holds the difference`, m?.interval[0] <= m?.difference && m?.difference <= m?.interval[1], JSON.stringify(m?.interval));
    }
    check(`${backend}: /model/compare tier changes`, compared.tier_changes === mine.tier_changes, `${compared.tier_changes} vs ${mine.tier_changes}`);
    say(
      `${backend} (b): /model/compare on ${compared.leads} April–May leads (${compared.converted} converted): ROC AUC ${f(mine.champion_auc)} → ${f(mine.challenger_auc)} ` +
        `(${sf(compared.roc_auc.difference)}, 95 % [${sf(compared.roc_auc.interval[0])}, ${sf(compared.roc_auc.interval[1])}]), Brier ${f(mine.champion_brier, 5)} → ${f(mine.challenger_brier, 5)} ` +
        `(${sf(compared.brier.difference, 5)}, [${sf(compared.brier.interval[0], 5)}, ${sf(compared.brier.interval[1], 5)}]); ${compared.tier_changes} leads change tier — equal to the figures computed here from the stored scores`,
    );

    // Retrain from the store, as if on 2018-04-01: it must leave the champion in place.
    const before = pointer();
    const quiet = { stdout: () => {}, stderr: () => {}, env: { OUTCOME_HORIZON_DAYS: String(config.outcomeHorizonDays) } };
    const file = await train(['--from-store', '--store-url', storeUrl, '--until', '2018-04-01', '--out', folder], quiet);
    const retrained = await readArtifact(file);
    check(`${backend}: train --from-store leaves latest.json alone`, pointer() === before);
    const expected = splitByDate(data.leads, '2018-04-01').before;
    check(
      `${backend}: train --from-store read every lead before 2018-04-01 with its real outcome`,
      retrained.training_data.leads === expected.length && retrained.training_data.converted === expected.filter((l) => l.converted).length && retrained.training_data.sources?.[0]?.location === store.description,
      JSON.stringify(retrained.training_data.sources),
    );
    // The same leads and labels the challenger learned from the files: the same model, up to the order of a sum.
    const weights = Object.keys(models.challenger.model.weights);
    const maxWeightDifference = Math.max(Math.abs(retrained.model.intercept - models.challenger.model.intercept), ...weights.map((name) => Math.abs((retrained.model.weights[name] ?? Infinity) - models.challenger.model.weights[name]!)));
    check(`${backend}: the store-trained model is the file-trained challenger (weights within 1e-9)`, maxWeightDifference <= TOLERANCE && weights.length === Object.keys(retrained.model.weights).length, `${maxWeightDifference}`);
    say(
      `${backend} (b): train --from-store --until 2018-04-01: ${retrained.model_version} from ${retrained.training_data.leads} stored leads (${retrained.training_data.converted} converted), ` +
        `holdout ROC AUC ${f(retrained.metrics.holdout.rocAuc)}; weights within ${maxWeightDifference.toExponential(1)} of the challenger trained on the files; latest.json unchanged`,
    );

    const gateArgs = ['--store-url', storeUrl, '--models', folder, '--url', api.url, '--key', ADMIN_KEY];
    const printed: string[] = [];
    const result = await promote([retrained.model_version, ...gateArgs], { stdout: (text) => printed.push(text), env: {} });
    process.stdout.write(`${printed.join('').trimEnd().replace(/^/gm, `  ${backend} gate: `)}\n`);
    const verdict = result.verdict!;
    check(`${backend}: the gate promotes the retrained model over the champion`, result.promoted && result.reloaded?.model_version === retrained.model_version, JSON.stringify(verdict.reasons));
    check(`${backend}: the gate compared on the ${spring.length} April–May leads`, verdict.from === '2018-04-01' && verdict.leads === spring.length);
    check(`${backend}: the gate's figures are /model/compare's (the same leads and models)`, close(verdict.comparison?.roc_auc.champion, mine.champion_auc) && close(verdict.comparison?.brier.challenger, mine.challenger_brier));
    const health = (await api.request('GET', '/health')).json();
    check(`${backend}: the running service serves the promoted model`, health.model.version === retrained.model_version, health.model.version);

    const refused: { version: string; reason: string }[] = [];
    for (const candidate of [models.worse, models.champion]) {
      const held = pointer();
      const outcome = await promote([candidate.model_version, ...gateArgs], { stdout: () => {}, env: {} }).catch((error: Error) => error);
      const ok = outcome instanceof PromoteError && /^refused /.test(outcome.message);
      check(`${backend}: the gate refuses ${candidate.model_version}`, ok, outcome instanceof Error ? outcome.message : 'promoted');
      check(`${backend}: latest.json untouched by the refusal`, pointer() === held);
      if (ok) refused.push({ version: candidate.model_version, reason: (outcome as Error).message.replace(/^refused [^:]+: /, '').replace(/\. \S+latest\.json still names.*$/, '') });
    }
    check(`${backend}: still serving the promoted model`, (await api.request('GET', '/health')).json().model.version === retrained.model_version);
    for (const r of refused) say(`${backend} (b): refused ${r.version}: ${r.reason}`);
    const c = compared;
    return {
      backend,
      a,
      b: {
        compare: { leads: c.leads, converted: c.converted, champion_auc: mine.champion_auc, challenger_auc: mine.challenger_auc, auc_interval: c.roc_auc.interval, champion_brier: mine.champion_brier, challenger_brier: mine.challenger_brier, brier_interval: c.brier.interval, tier_changes: c.tier_changes },
        retrained: { version: retrained.model_version, leads: retrained.training_data.leads, converted: retrained.training_data.converted, holdout_auc: retrained.metrics.holdout.rocAuc, max_weight_difference: maxWeightDifference },
        promoted: { leads: verdict.leads, converted: verdict.converted, auc: [verdict.comparison!.roc_auc.champion, verdict.comparison!.roc_auc.challenger], brier: [verdict.comparison!.brier.champion, verdict.comparison!.brier.challenger] },
        refused,
        seconds: (performance.now() - bStarted) / 1000,
      },
    };
  } finally {
    await app.close();
    await store.close();
    rmSync(folder, { recursive: true, force: true });
  }
}

// ---- main

const data = await loadOlist(args.data!);
const deals = readFileSync(path.join(args.data!, DEALS_FILE), 'utf8');
say(`${data.leads.length} leads, ${data.leads.filter((l) => l.converted).length} converted, from ${path.resolve(args.data!)}`);
const trainStarted = performance.now();
const models: Models = {
  shipped: (await loadArtifact(path.join(projectRoot(), 'artifacts'))).artifact,
  // Before 2018 the data holds seven months, the first nearly empty (4 leads in June 2017): the
  // rolling origin can evaluate four monthly retrains (September–December), not five.
  champion: trainOn(data, '2018-01-01', { holdoutFrom: '2017-11-01', rollingOriginMonths: 4 }),
  challenger: trainOn(data, '2018-04-01', { holdoutFrom: '2018-02-01' }),
  // Deliberately worse: the shortest history the procedure can train on (it chooses C on the
  // months before its cut-off, so one month alone cannot be trained): June–September 2017,
  // 941 leads of which 18 converted, and a base rate matched to August 2017's 2 %.
  worse: trainOn(data, '2017-10-01', { holdoutFrom: '2017-09-01', rollingOriginMonths: 1 }),
};
say(
  `trained in-process in ${((performance.now() - trainStarted) / 1000).toFixed(1)} s: champion ${models.champion.model_version} (before 2018-01-01, ${models.champion.training_data.leads} leads), ` +
    `challenger ${models.challenger.model_version} (before 2018-04-01, ${models.challenger.training_data.leads} leads), worse ${models.worse.model_version} (before 2017-10-01, ${models.worse.training_data.leads} leads); shipped ${models.shipped.model_version}`,
);

const results: Figures[] = [];
const sqliteDir = mkdtempSync(path.join(tmpdir(), 'leadscore-replay-'));
try {
  const file = path.join(sqliteDir, 'leadscore.db');
  results.push(await replay('SQLite', { kind: 'sqlite', path: file, synchronous: 'normal' }, `sqlite:${file}`, data, deals, models));
} finally {
  rmSync(sqliteDir, { recursive: true, force: true });
}

const serverUrl = process.env.TEST_POSTGRES_URL;
if (serverUrl) {
  // A schema of its own in the server's database, dropped afterwards.
  const schema = `replay_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client(serverUrl);
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  try {
    const url = new URL(serverUrl);
    url.searchParams.set('options', `-c search_path=${schema}`);
    results.push(await replay('PostgreSQL', { kind: 'postgres', url: url.toString() }, url.toString(), data, deals, models));
  } finally {
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  }
} else if (process.env.CI === 'true') {
  check('PostgreSQL replay ran', false, 'CI=true but TEST_POSTGRES_URL is not set (.ci/run starts a server with scripts/ci/postgres.sh)');
} else {
  say('PostgreSQL: skipped (set TEST_POSTGRES_URL=postgres://… to replay on it too)');
}

console.log('\n| backend | (a) leads | /predict + batches | pages | performance ROC AUC | Brier | (b) compare ROC AUC champion → challenger [95 % of difference] | Brier | tier changes | gate: promoted on | refused | time (a) / (b) |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of results) {
  const b = r.b!;
  console.log(
    `| ${r.backend} | ${r.a.leads} | ${r.a.predict} + ${r.a.batches} | ${r.a.pages} | ${f(r.a.roc_auc, 6)} | ${f(r.a.brier, 6)} | ${f(b.compare.champion_auc)} → ${f(b.compare.challenger_auc)} [${sf(b.compare.auc_interval[0])}, ${sf(b.compare.auc_interval[1])}] | ` +
      `${f(b.compare.champion_brier, 5)} → ${f(b.compare.challenger_brier, 5)} [${sf(b.compare.brier_interval[0], 5)}, ${sf(b.compare.brier_interval[1], 5)}] | ${b.compare.tier_changes} | ` +
      `${b.promoted.leads} leads (${b.promoted.converted} converted): AUC ${f(b.promoted.auc[0])} → ${f(b.promoted.auc[1])}, Brier ${f(b.promoted.brier[0], 5)} → ${f(b.promoted.brier[1], 5)} | ${b.refused.length} of 2 | ${r.a.seconds.toFixed(1)} / ${b.seconds.toFixed(1)} s |`,
  );
}
console.log(`\nreplay: ${checks} checks, ${failures.length} mismatches, ${clock()}`);
process.exit(failures.length ? 1 : 0);
