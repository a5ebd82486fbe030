// The behaviour every store backend owes the service: run against SQLite always and PostgreSQL when one is given.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rocAuc, brierScore, seededRandom } from '../../src/model/metrics.js';
import type { Tier } from '../../src/model/tiers.js';
import { StoreInputError, StoreUnavailableError, type Prediction, type ScoredLead, type Store, type StoreOptions } from '../../src/store/index.js';

export interface StoreHarness {
  /** Opens the same store each time it is called (to check that data outlives a close). */
  open(options?: StoreOptions): Promise<Store>;
  cleanup(): Promise<void>;
}

const DAY = 86_400_000;
/** The tests' "now": 2026-03-11 (a Wednesday), so the 180-day horizon falls on 2025-09-12. */
export const NOW = Date.parse('2026-03-11T12:00:00.000Z');
const TIERS: Tier[] = ['A', 'B', 'C', 'D'];

export function lead(n: number, overrides: Partial<ScoredLead> = {}): ScoredLead {
  return {
    mql_id: `lead-${String(n).padStart(4, '0')}`,
    first_contact_date: '2026-03-01',
    landing_page_id: `page-${n % 3}`,
    origin: ['social', 'email', null][n % 3],
    probability: 0.01 + (n % 97) / 100,
    tier: TIERS[n % 4]!,
    ...overrides,
  };
}

const at = (iso: string) => new Date(iso);

export function storeContract(name: string, makeHarness: () => Promise<StoreHarness>): void {
  describe(`store contract: ${name}`, () => {
    let harness: StoreHarness;
    let store: Store;
    const clock = { ms: NOW };
    const options: StoreOptions = { now: () => clock.ms, outcomeHorizonDays: 180 };

    beforeEach(async () => {
      clock.ms = NOW;
      harness = await makeHarness();
      store = await harness.open(options);
    });
    afterEach(async () => {
      await store.close();
      await harness.cleanup();
    });

    const record = (leads: ScoredLead[], scoredAt: string, extra: { request_id?: string; model_version?: string; challenger_version?: string } = {}) =>
      store.recordScores({ request_id: extra.request_id ?? `req-${scoredAt}`, scored_at: at(scoredAt), model_version: extra.model_version ?? 'm1', challenger_version: extra.challenger_version, leads });

    const everything = async (filter = {}) => {
      const rows: Prediction[] = [];
      for await (const chunk of store.exportPredictions(filter, { chunkSize: 7 })) rows.push(...chunk);
      return rows;
    };

    it('records a batch and lists it back exactly: the four lead fields, score, model, time, no outcome yet', async () => {
      const leads = [lead(1, { probability: 0.1 + 0.2, origin: '' }), lead(2, { first_contact_date: '2026-03-02T14:05:00+01:00', origin: undefined }), lead(3, { probability: 1 / 3 })];
      await record(leads, '2026-03-10T08:00:00.123Z', { request_id: 'r-1', model_version: '20261129.abc' });
      const page = await store.listPredictions({});
      expect(page.next_cursor).toBeNull();
      expect(page.predictions).toHaveLength(3);
      const byId = new Map(page.predictions.map((p) => [p.mql_id, p]));
      expect(byId.get('lead-0001')).toEqual({
        mql_id: 'lead-0001',
        first_contact_date: '2026-03-01',
        landing_page_id: 'page-1',
        origin: null, // empty means missing
        probability: 0.1 + 0.2, // to the last bit
        tier: 'B',
        model_version: '20261129.abc',
        scored_at: '2026-03-10T08:00:00.123Z',
        outcome: 'unknown',
      });
      expect(byId.get('lead-0002')).toMatchObject({ first_contact_date: '2026-03-02T14:05:00+01:00', origin: null });
      expect(byId.get('lead-0003')!.probability).toBe(1 / 3);
    });

    it('keeps every score of a lead: the latest is current, the earlier ones are its history', async () => {
      await record([lead(1, { probability: 0.2, tier: 'C' })], '2026-03-01T00:00:00.000Z', { request_id: 'first' });
      await record([lead(1, { probability: 0.3, tier: 'B', landing_page_id: 'moved' })], '2026-03-02T00:00:00.000Z', { request_id: 'second', model_version: 'm2' });
      await record([lead(2)], '2026-03-01T12:00:00.000Z');
      const { predictions } = await store.listPredictions({});
      expect(predictions.map((p) => [p.mql_id, p.probability])).toEqual([
        ['lead-0001', 0.3],
        ['lead-0002', lead(2).probability],
      ]);
      const history = await store.getLead('lead-0001');
      expect(history).toMatchObject({
        mql_id: 'lead-0001',
        current: { probability: 0.3, tier: 'B', landing_page_id: 'moved', model_version: 'm2', request_id: 'second', scored_at: '2026-03-02T00:00:00.000Z', challenger: null },
        history: [{ probability: 0.2, tier: 'C', request_id: 'first', model_version: 'm1' }],
        outcome: { status: 'unknown', converted: null, won_date: null },
      });
      expect(await store.getLead('never-scored')).toBeNull();
    });

    it('takes the later score when one request names a lead twice', async () => {
      await record([lead(1, { probability: 0.2 }), lead(1, { probability: 0.9, tier: 'A' })], '2026-03-01T00:00:00.000Z');
      expect((await store.listPredictions({})).predictions.map((p) => p.probability)).toEqual([0.9]);
      expect((await store.getLead('lead-0001'))!.history.map((h) => h.probability)).toEqual([0.2]);
    });

    it('records a batch whole or not at all, and a bad batch does not sink the others written with it', async () => {
      const bad = [lead(10), lead(11, { probability: 2 }), lead(12)]; // the schema refuses a probability above 1
      const results = await Promise.allSettled([
        record([lead(1), lead(2)], '2026-03-01T00:00:00.000Z', { request_id: 'good-1' }),
        record(bad, '2026-03-01T00:00:01.000Z', { request_id: 'bad' }),
        record([lead(3)], '2026-03-01T00:00:02.000Z', { request_id: 'good-2' }),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((results[1] as PromiseRejectedResult).reason).not.toBeInstanceOf(StoreUnavailableError);
      const ids = (await everything()).map((p) => p.mql_id).sort();
      expect(ids).toEqual(['lead-0001', 'lead-0002', 'lead-0003']);
    });

    it("leaves a lead's earlier score current when the batch rescoring it fails, alone or written with others", async () => {
      await record([lead(1, { probability: 0.2 }), lead(2, { probability: 0.3 })], '2026-03-01T00:00:00.000Z');
      const rescore = (n: number, at: string) => record([lead(n, { probability: 0.7 }), lead(20 + n, { probability: 2 })], at);
      await expect(rescore(1, '2026-03-02T00:00:00.000Z')).rejects.not.toBeInstanceOf(StoreUnavailableError);
      const together = await Promise.allSettled([record([lead(3)], '2026-03-02T00:00:01.000Z'), rescore(2, '2026-03-02T00:00:02.000Z')]);
      expect(together.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
      expect((await everything()).map((p) => [p.mql_id, p.probability]).sort()).toEqual([
        ['lead-0001', 0.2],
        ['lead-0002', 0.3],
        ['lead-0003', lead(3).probability],
      ]);
      for (const id of ['lead-0001', 'lead-0002']) expect((await store.getLead(id))!.history).toEqual([]);
    });

    it('settles every one of many concurrent writers on its own committed rows', async () => {
      const writes = Array.from({ length: 200 }, (_, i) => record([lead(i), lead(1000 + i)], `2026-03-01T00:00:00.000Z`, { request_id: `req-${i}` }));
      await Promise.all(writes);
      const rows = await everything();
      expect(rows).toHaveLength(400);
      expect(new Set(rows.map((r) => r.mql_id)).size).toBe(400);
    });

    it('rejects a challenger score without the challenger version, and records both scores when named', async () => {
      await expect(record([lead(1, { challenger: { probability: 0.5, tier: 'A' } })], '2026-03-01T00:00:00.000Z')).rejects.toThrow(/challenger_version/);
      await record([lead(1, { challenger: { probability: 0.5, tier: 'A' } }), lead(2)], '2026-03-01T00:00:00.000Z', { challenger_version: 'm2' });
      const history = await store.getLead('lead-0001');
      expect(history!.current.challenger).toEqual({ model_version: 'm2', probability: 0.5, tier: 'A' });
      expect((await store.getLead('lead-0002'))!.current.challenger).toBeNull();
    });

    it('records outcomes idempotently, keeps those of leads not scored yet and joins them later', async () => {
      await record([lead(1), lead(2), lead(3)], '2026-03-01T00:00:00.000Z');
      const outcomes = [
        { mql_id: 'lead-0001', won_date: '2026-03-05 10:00:00', converted: true },
        { mql_id: 'lead-0002', won_date: null, converted: false },
        { mql_id: 'lead-0009', won_date: '2026-03-06 11:00:00', converted: true },
      ];
      expect(await store.recordOutcomes(outcomes)).toEqual({ received: 3, matched: 2, unmatched: 1, updated: 3 });
      expect(await store.recordOutcomes(outcomes)).toEqual({ received: 3, matched: 2, unmatched: 1, updated: 0 });
      // a correction is an update; a lead named twice takes its last outcome
      expect(
        await store.recordOutcomes([
          { mql_id: 'lead-0002', won_date: '2026-03-07 09:00:00', converted: true },
          { mql_id: 'lead-0003', won_date: null, converted: true },
          { mql_id: 'lead-0003', won_date: null, converted: false },
        ]),
      ).toEqual({ received: 3, matched: 3, unmatched: 0, updated: 2 });
      expect(await store.recordOutcomes([])).toEqual({ received: 0, matched: 0, unmatched: 0, updated: 0 });

      const outcomeOf = async () => Object.fromEntries((await everything()).map((p) => [p.mql_id, p.outcome]));
      expect(await outcomeOf()).toEqual({ 'lead-0001': 'converted', 'lead-0002': 'converted', 'lead-0003': 'lost' });
      await record([lead(9)], '2026-03-02T00:00:00.000Z');
      expect((await outcomeOf())['lead-0009']).toBe('converted');
      expect((await store.getLead('lead-0009'))!.outcome).toEqual({ status: 'converted', converted: true, won_date: '2026-03-06 11:00:00' });
    });

    it('counts a lead with no outcome as lost once its first contact is older than the horizon', async () => {
      // horizon cut-off at NOW: 2025-09-12
      await record(
        [
          lead(1, { first_contact_date: '2025-09-11' }),
          lead(2, { first_contact_date: '2025-09-11T23:59:59Z' }),
          lead(3, { first_contact_date: '2025-09-12' }),
          lead(4, { first_contact_date: '2025-01-01' }),
        ],
        '2026-03-01T00:00:00.000Z',
      );
      await store.recordOutcomes([{ mql_id: 'lead-0004', won_date: '2025-02-01 00:00:00', converted: true }]);
      const status = async (outcome?: 'converted' | 'lost' | 'unknown') => (await everything(outcome ? { outcome } : {})).map((p) => p.mql_id).sort();
      expect(await status('lost')).toEqual(['lead-0001', 'lead-0002']);
      expect(await status('unknown')).toEqual(['lead-0003']);
      expect(await status('converted')).toEqual(['lead-0004']);
      expect((await store.getLead('lead-0001'))!.outcome.status).toBe('lost');
      clock.ms += DAY; // a day later lead 3 is past the horizon too
      expect(await status('lost')).toEqual(['lead-0001', 'lead-0002', 'lead-0003']);
      expect((await store.listPredictions({ outcome: 'unknown' })).predictions).toEqual([]);
    });

    it('filters by time, tiers, origin (null for missing), landing page and model', async () => {
      await record([lead(1), lead(2), lead(3)], '2026-03-01T00:00:00.000Z', { model_version: 'm1' });
      await record([lead(4), lead(5), lead(6)], '2026-03-02T00:00:00.000Z', { model_version: 'm2' });
      const ids = async (filter: Parameters<Store['listPredictions']>[0]) => (await store.listPredictions(filter)).predictions.map((p) => p.mql_id).sort();
      expect(await ids({ since: at('2026-03-02T00:00:00.000Z') })).toEqual(['lead-0004', 'lead-0005', 'lead-0006']);
      expect(await ids({ until: at('2026-03-02T00:00:00.000Z') })).toEqual(['lead-0001', 'lead-0002', 'lead-0003']);
      expect(await ids({ tiers: ['A', 'B'] })).toEqual(['lead-0001', 'lead-0004', 'lead-0005']);
      expect(await ids({ origin: 'email' })).toEqual(['lead-0001', 'lead-0004']);
      expect(await ids({ origin: null })).toEqual(['lead-0002', 'lead-0005']);
      expect(await ids({ landing_page_id: 'page-0' })).toEqual(['lead-0003', 'lead-0006']);
      expect(await ids({ model_version: 'm2', tiers: ['A'] })).toEqual(['lead-0004']);
      expect(await ids({ origin: 'nobody' })).toEqual([]);
    });

    it('pages newest first with an opaque cursor, ties broken by the order of recording', async () => {
      await record(Array.from({ length: 12 }, (_, i) => lead(i)), '2026-03-01T00:00:00.000Z');
      await record(Array.from({ length: 13 }, (_, i) => lead(100 + i)), '2026-03-02T00:00:00.000Z');
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: Awaited<ReturnType<Store['listPredictions']>> = await store.listPredictions({}, { limit: 10, cursor });
        seen.push(...page.predictions.map((p) => p.mql_id));
        cursor = page.next_cursor;
        pages++;
      } while (cursor);
      expect(pages).toBe(3);
      const expected = [...Array.from({ length: 13 }, (_, i) => lead(112 - i).mql_id), ...Array.from({ length: 12 }, (_, i) => lead(11 - i).mql_id)];
      expect(seen).toEqual(expected);
      expect((await everything()).map((p) => p.mql_id)).toEqual(expected); // the export reads in the same order
      const exact = await store.listPredictions({}, { limit: 25 });
      expect(exact.next_cursor).toBeNull();
    });

    it('refuses a cursor it did not make and a limit outside 1–1000, naming the field', async () => {
      for (const cursor of ['nonsense', 'MTIzOmFiYw', Buffer.from('1:2:3').toString('base64url')]) {
        await expect(store.listPredictions({}, { cursor })).rejects.toMatchObject({ name: 'StoreInputError', field: 'cursor' });
      }
      for (const limit of [0, 1001, 2.5]) {
        await expect(store.listPredictions({}, { limit })).rejects.toBeInstanceOf(StoreInputError);
      }
      expect((await store.listPredictions({}, { limit: 1000 })).predictions).toEqual([]);
    });

    it('exports in chunks, and a consumer that stops early leaves the store usable', async () => {
      await record(Array.from({ length: 30 }, (_, i) => lead(i)), '2026-03-01T00:00:00.000Z');
      const sizes: number[] = [];
      for await (const chunk of store.exportPredictions({}, { chunkSize: 7 })) sizes.push(chunk.length);
      expect(sizes).toEqual([7, 7, 7, 7, 2]);
      for await (const chunk of store.exportPredictions({ tiers: ['A'] }, { chunkSize: 2 })) {
        expect(chunk).toHaveLength(2);
        break;
      }
      // writing while an export is paused between chunks
      const exporting = store.exportPredictions({}, { chunkSize: 5 })[Symbol.asyncIterator]();
      await exporting.next();
      await record([lead(99)], '2026-03-02T00:00:00.000Z');
      await exporting.return?.();
      expect(await everything()).toHaveLength(31);
      expect((await store.health()).status).toBe('up');
    });

    it('keeps taking writes while several exports wait on slow readers', async () => {
      await record(Array.from({ length: 20 }, (_, i) => lead(i)), '2026-03-01T00:00:00.000Z');
      const narrow = await harness.open({ ...options, readPoolSize: 1 }); // one connection for reads
      const exports = Array.from({ length: 3 }, () => narrow.exportPredictions({}, { chunkSize: 2 })[Symbol.asyncIterator]());
      for (const paused of exports) expect((await paused.next()).value).toHaveLength(2);
      await narrow.recordScores({ request_id: 'during-exports', scored_at: at('2026-03-02T00:00:00.000Z'), model_version: 'm1', leads: [lead(50)] });
      expect((await narrow.listPredictions({}, { limit: 1 })).predictions[0]!.mql_id).toBe('lead-0050');
      expect((await narrow.health()).status).toBe('up');
      for (const paused of exports) await paused.return?.();
      await narrow.close();
    });

    it('sums current scores by day, ISO week and month', async () => {
      await record([lead(1, { tier: 'A', probability: 0.4 }), lead(2, { tier: 'B', probability: 0.2 })], '2026-03-01T23:59:59.999Z'); // a Sunday
      await record([lead(3, { tier: 'A', probability: 0.3 })], '2026-03-02T00:00:00.000Z'); // Monday
      await record([lead(4, { tier: 'D', probability: 0.1, first_contact_date: '2025-01-01' })], '2026-02-27T10:00:00.000Z');
      await record([lead(1, { tier: 'C', probability: 0.1 })], '2026-03-02T01:00:00.000Z'); // rescored: counts once, on its new day
      await store.recordOutcomes([{ mql_id: 'lead-0003', won_date: '2026-03-03 00:00:00', converted: true }]);
      const days = await store.summarize({}, 'day');
      expect(days.map((d) => [d.start, d.leads, d.tiers, d.converted, d.lost])).toEqual([
        ['2026-02-27', 1, { A: 0, B: 0, C: 0, D: 1 }, 0, 1],
        ['2026-03-01', 1, { A: 0, B: 1, C: 0, D: 0 }, 0, 0],
        ['2026-03-02', 2, { A: 1, B: 0, C: 1, D: 0 }, 1, 0],
      ]);
      expect(days[2]!.mean_probability).toBeCloseTo(0.2, 12);
      expect(days[2]!.conversion_rate).toBe(0.5);
      const weeks = await store.summarize({}, 'week');
      expect(weeks.map((w) => [w.start, w.leads])).toEqual([
        ['2026-02-23', 2],
        ['2026-03-02', 2],
      ]);
      expect(weeks[0]!.mean_probability).toBeCloseTo(0.15, 12);
      const months = await store.summarize({ since: at('2026-02-01T00:00:00Z') }, 'month');
      expect(months.map((m) => [m.start, m.leads, m.converted, m.lost])).toEqual([
        ['2026-02-01', 1, 0, 1],
        ['2026-03-01', 3, 1, 0],
      ]);
      expect(await store.summarize({ since: at('2030-01-01T00:00:00Z') }, 'day')).toEqual([]);
    });

    it('gives live quality exactly the probabilities and labels that were recorded', async () => {
      const random = seededRandom(7);
      const leads = Array.from({ length: 300 }, (_, i) => lead(i, { probability: random(), first_contact_date: i % 10 === 0 ? '2026-03-01' : '2025-01-01' }));
      await record(leads.slice(0, 150), '2026-03-01T00:00:00.000Z', { model_version: 'm1' });
      await record(leads.slice(150), '2026-03-02T00:00:00.000Z', { model_version: 'm2' });
      const won = leads.filter((_, i) => i % 7 === 0);
      await store.recordOutcomes(won.map((l) => ({ mql_id: l.mql_id, won_date: '2026-03-05 00:00:00', converted: true })));
      // known: converted, or silent past the horizon (every tenth lead is recent and silent: unknown)
      const known = leads.filter((_, i) => i % 7 === 0 || i % 10 !== 0);
      const labels = known.map((l) => (won.includes(l) ? 1 : 0));
      const scores = await store.labelledScores({});
      expect([...scores.probabilities]).toEqual(known.map((l) => l.probability));
      expect([...scores.labels]).toEqual(labels);
      expect(scores.tiers).toEqual(known.map((l) => l.tier));
      expect(rocAuc(scores.labels, scores.probabilities)).toBe(rocAuc(labels, known.map((l) => l.probability)));
      expect(brierScore(scores.labels, scores.probabilities)).toBe(brierScore(labels, known.map((l) => l.probability)));
      const m2 = await store.labelledScores({ model_version: 'm2' });
      expect(m2.probabilities.length).toBe(known.filter((l) => leads.indexOf(l) >= 150).length);
      expect((await store.labelledScores({ since: at('2030-01-01T00:00:00Z') })).probabilities.length).toBe(0);
    });

    it('pairs champion and challenger scores of leads with known outcomes', async () => {
      await record(
        [lead(1, { challenger: { probability: 0.7, tier: 'A' }, first_contact_date: '2025-01-01' }), lead(2, { challenger: { probability: 0.05, tier: 'D' }, first_contact_date: '2025-01-01' }), lead(3, { challenger: { probability: 0.5, tier: 'A' } })],
        '2026-03-01T00:00:00.000Z',
        { challenger_version: 'c1' },
      );
      await record([lead(4, { first_contact_date: '2025-01-01' })], '2026-03-01T00:00:00.000Z');
      await store.recordOutcomes([{ mql_id: 'lead-0001', won_date: null, converted: true }]);
      const pairs = await store.scorePairs({});
      expect(pairs.model_versions).toEqual(['m1', 'm1']);
      expect(pairs.challenger_versions).toEqual(['c1', 'c1']);
      expect([...pairs.champion]).toEqual([lead(1).probability, lead(2).probability]);
      expect([...pairs.challenger]).toEqual([0.7, 0.05]);
      expect(pairs.challenger_tiers).toEqual(['A', 'D']);
      expect([...pairs.labels]).toEqual([1, 0]);
      expect((await store.scorePairs({ challenger_version: 'other' })).labels.length).toBe(0);
    });

    it('counts categories and score bins over the last hours or the last N scores', async () => {
      await record([lead(1, { probability: 0.05 }), lead(2, { probability: 0.1 }), lead(3, { probability: 0.5 })], '2026-03-10T00:00:00.000Z');
      await record([lead(4, { probability: 0.15 }), lead(1, { probability: 0.95 })], '2026-03-11T06:00:00.000Z');
      const day = await store.driftCounts({ since: at('2026-03-10T12:00:00Z'), score_edges: [0.1, 0.5] });
      expect(day).toEqual({
        leads: 2,
        from: '2026-03-11T06:00:00.000Z',
        to: '2026-03-11T06:00:00.000Z',
        origin: [{ value: 'email', count: 2 }],
        landing_page_id: [{ value: 'page-1', count: 2 }],
        tiers: { A: 1, B: 1, C: 0, D: 0 },
        score_bins: [0, 1, 1],
      });
      const all = await store.driftCounts({ last: 100, score_edges: [0.1, 0.5] });
      expect(all.leads).toBe(5); // a lead scored twice counts twice
      expect(all.score_bins).toEqual([1, 2, 2]); // 0.1 and 0.5 fall in the bin they open
      const last3 = await store.driftCounts({ last: 3 });
      expect(last3.leads).toBe(3);
      expect(last3.score_bins).toEqual([3]);
      expect(last3.from).toBe('2026-03-10T00:00:00.000Z');
      expect((await store.driftCounts({ last: 10, model_version: 'other' })).leads).toBe(0);
      await expect(store.driftCounts({ last: 10, score_edges: [0.5, 0.1] })).rejects.toMatchObject({ field: 'score_edges' });
      await expect(store.driftCounts({ last: 0 })).rejects.toMatchObject({ field: 'last' });
      await expect(store.driftCounts({})).rejects.toBeInstanceOf(StoreInputError);
    });

    it('gives training the current lead fields and label of every lead with a known outcome', async () => {
      await record([lead(1, { first_contact_date: '2025-01-05' }), lead(2, { first_contact_date: '2025-02-01' }), lead(3, { first_contact_date: '2026-03-01' })], '2026-03-01T00:00:00.000Z');
      await record([lead(2, { first_contact_date: '2025-02-01', landing_page_id: 'updated', origin: '' })], '2026-03-02T00:00:00.000Z');
      await store.recordOutcomes([{ mql_id: 'lead-0001', won_date: '2025-03-01 10:00:00', converted: true }]);
      expect(await store.labelledLeads()).toEqual([
        { mql_id: 'lead-0001', first_contact_date: '2025-01-05', landing_page_id: 'page-1', origin: 'email', converted: true, won_date: '2025-03-01 10:00:00' },
        { mql_id: 'lead-0002', first_contact_date: '2025-02-01', landing_page_id: 'updated', origin: null, converted: false },
      ]);
      expect((await store.labelledLeads({ first_contact_from: '2025-02-01' })).map((l) => l.mql_id)).toEqual(['lead-0002']);
      expect((await store.labelledLeads({ first_contact_before: '2025-02-01' })).map((l) => l.mql_id)).toEqual(['lead-0001']);
      await expect(store.labelledLeads({ first_contact_from: '2025-2-1' })).rejects.toMatchObject({ field: 'first_contact_from' });
    });

    it('deletes old scores in small steps, and the outcomes left with no lead', async () => {
      await record(Array.from({ length: 10 }, (_, i) => lead(i)), '2026-01-01T00:00:00.000Z');
      await record([lead(0), lead(50)], '2026-03-01T00:00:00.000Z');
      clock.ms = Date.parse('2026-01-02T00:00:00Z');
      await store.recordOutcomes([
        { mql_id: 'lead-0000', won_date: null, converted: true }, // its lead keeps a newer score
        { mql_id: 'lead-0001', won_date: null, converted: true }, // its lead goes
        { mql_id: 'lead-0777', won_date: null, converted: true }, // never scored, old
      ]);
      clock.ms = NOW;
      await store.recordOutcomes([{ mql_id: 'lead-0888', won_date: null, converted: true }]); // never scored, recent
      expect(await store.deleteScoresBefore(at('2026-02-01T00:00:00Z'), { batchSize: 3 })).toBe(10);
      expect((await everything()).map((p) => [p.mql_id, p.outcome])).toEqual([
        ['lead-0050', 'unknown'],
        ['lead-0000', 'converted'],
      ]);
      expect((await store.getLead('lead-0000'))!.history).toEqual([]);
      const receipt = await store.recordOutcomes(['lead-0000', 'lead-0001', 'lead-0777', 'lead-0888'].map((mql_id) => ({ mql_id, won_date: null, converted: true })));
      expect(receipt.updated).toBe(2); // 0001 and 0777 were deleted; 0000 and 0888 were kept
      expect(await store.deleteScoresBefore(at('2026-02-01T00:00:00Z'))).toBe(0);
    });

    it('reports itself up, keeps its data across a close, and refuses work once closed', async () => {
      await record([lead(1)], '2026-03-01T00:00:00.000Z');
      expect(await store.health()).toMatchObject({ status: 'up', backend: store.backend });
      await store.close();
      await expect(record([lead(2)], '2026-03-01T00:00:00.000Z')).rejects.toBeInstanceOf(StoreUnavailableError);
      expect((await store.health()).status).toBe('down');
      store = await harness.open(options); // migrations already applied: nothing to do
      expect((await store.listPredictions({})).predictions.map((p) => p.mql_id)).toEqual(['lead-0001']);
    });
  });
}
