// The store contract on a real PostgreSQL server (TEST_POSTGRES_URL; .ci/run starts one), and what only the shared store does.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openStore, StoreConfigError, StoreUnavailableError, type Store, type StoreOptions } from '../../src/store/index.js';
import { inputEdgeCases } from '../server/input-edges.js';
import { lead, storeContract } from './contract.js';

const serverUrl = process.env.TEST_POSTGRES_URL;

if (!serverUrl) {
  if (process.env.CI === 'true') {
    describe('PostgreSQL store', () => {
      it('has a PostgreSQL server to run against', () => {
        throw new Error('CI=true but TEST_POSTGRES_URL is not set: .ci/run starts PostgreSQL 15 with scripts/ci/postgres.sh and exports it');
      });
    });
  } else {
    console.warn('PostgreSQL store tests skipped: set TEST_POSTGRES_URL=postgres://… to run them (.ci/run starts a server itself)');
    describe.skip('PostgreSQL store (skipped: TEST_POSTGRES_URL is not set)', () => {
      it('runs the store contract on PostgreSQL', () => undefined);
    });
  }
} else {
  const admin = new pg.Pool({ connectionString: serverUrl, max: 2 });
  afterAll(() => admin.end());

  /** Each store gets a schema of its own in the one test database, so test files can run side by side. */
  async function freshSchema(): Promise<{ schema: string; url: (base?: string) => string; drop: () => Promise<void> }> {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    await admin.query(`CREATE SCHEMA ${schema}`);
    return {
      schema,
      url: (base = serverUrl!) => {
        const url = new URL(base);
        url.searchParams.set('options', `-c search_path=${schema}`);
        url.searchParams.set('application_name', schema);
        return url.toString();
      },
      drop: async () => void (await admin.query(`DROP SCHEMA ${schema} CASCADE`)),
    };
  }

  /** Runs `work` while another session holds `schema`.outcomes locked: every read and every outcome upload waits behind it. */
  async function whileOutcomesLocked<T>(schema: string, work: () => Promise<T>): Promise<T> {
    const holder = await admin.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`LOCK TABLE ${schema}.outcomes IN ACCESS EXCLUSIVE MODE`);
      return await work();
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
  }
  /** How many of a store's server sessions (named after its schema) are running a statement, or waiting on a lock. */
  const sessions = async (schema: string, state: 'active' | 'waiting on a lock'): Promise<number> =>
    (await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND ${state === 'active' ? "state = 'active'" : "wait_event_type = 'Lock'"}`, [schema])).rows[0].n;
  const openPg = async (url: string, options: StoreOptions = {}) => (await openStore({ kind: 'postgres', url }, options))!;
  /** `count` scored leads numbered from `first`. */
  const leads = (count: number, first: number) => Array.from({ length: count }, (_, i) => lead(first + i));
  /** Every row a whole export gives. */
  const exportedRows = async (store: Store) => {
    let rows = 0;
    for await (const chunk of store.exportPredictions({})) rows += chunk.length;
    return rows;
  };

  // One schema for the whole contract, emptied after each test: making and migrating a schema per test took ~0.25 s each.
  let contractSchema: Promise<Awaited<ReturnType<typeof freshSchema>>> | undefined;
  afterAll(async () => (await contractSchema)?.drop());
  storeContract('PostgreSQL', async () => {
    contractSchema ??= freshSchema();
    const { schema, url } = await contractSchema;
    return {
      open: (options) => openPg(url(), options),
      cleanup: async () => void (await admin.query(`TRUNCATE ${schema}.scores, ${schema}.outcomes RESTART IDENTITY`)),
    };
  });

  inputEdgeCases('PostgreSQL', async () => {
    const own = await freshSchema();
    const store = await openPg(own.url());
    return { store, close: async () => (await store.close(), await own.drop()) };
  });

  describe('PostgreSQL store', () => {
    let schema: Awaited<ReturnType<typeof freshSchema>>;
    const stores: Store[] = [];
    beforeAll(async () => {
      schema = await freshSchema();
    });
    afterEach(async () => {
      await Promise.all(stores.splice(0).map((store) => store.close()));
    });
    afterAll(() => schema.drop());

    it('applies each migration once when several replicas start at the same time', async () => {
      const own = await freshSchema();
      stores.push(...(await Promise.all(Array.from({ length: 6 }, () => openPg(own.url())))));
      const { rows } = await admin.query(`SELECT version FROM ${own.schema}.store_migrations`);
      expect(rows).toEqual([{ version: 1 }]);
      await Promise.all(stores.map((store, i) => store.recordScores({ request_id: `r${i}`, scored_at: new Date(), model_version: 'm', leads: [lead(i)] })));
      expect((await stores[0]!.listPredictions({})).predictions).toHaveLength(6);
      await Promise.all(stores.splice(0).map((store) => store.close()));
      await own.drop();
    });

    it('refuses a database whose schema is newer than this build', async () => {
      const own = await freshSchema();
      await (await openPg(own.url())).close();
      await admin.query(`INSERT INTO ${own.schema}.store_migrations (version, name) VALUES (99, 'from the future')`);
      await expect(openPg(own.url())).rejects.toThrow(StoreConfigError);
      await own.drop();
    });

    it('says the store is unavailable when no server answers', async () => {
      const port = await closedPort();
      const url = new URL(serverUrl!);
      url.port = String(port);
      await expect(openPg(url.toString())).rejects.toBeInstanceOf(StoreUnavailableError);
    });

    it('answers StoreUnavailableError while the server is unreachable and recovers by itself when it is back', async () => {
      const proxy = await startProxy(new URL(serverUrl!));
      const store = await openPg(schema.url(proxy.url));
      stores.push(store);
      const write = (i: number) => store.recordScores({ request_id: `r${i}`, scored_at: new Date(), model_version: 'm', leads: [lead(i)] });
      await write(1);

      await proxy.down(); // every connection cut, new ones refused: what a stopped server looks like from here
      await expect(write(2)).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.listPredictions({})).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(await store.health()).toMatchObject({ status: 'down' });

      await proxy.up();
      await write(3);
      expect(await store.health()).toMatchObject({ status: 'up' });
      expect((await store.listPredictions({})).predictions.map((p) => p.mql_id).sort()).toEqual(['lead-0001', 'lead-0003']);
      await proxy.close();
    });

    it('answers StoreUnavailableError within the write timeout while the server stops answering, and writes again once it answers', async () => {
      const proxy = await startProxy(new URL(serverUrl!));
      // Long enough for a connection through the relay on a machine the whole suite keeps busy (300 ms was not).
      const store = await openPg(schema.url(proxy.url), { answerTimeoutMs: 1500 });
      stores.push(store);
      const write = (i: number) => store.recordScores({ request_id: `r${i}`, scored_at: new Date(), model_version: 'm', leads: [lead(i)] });
      await write(11);

      // Frozen: before the timeout, every write (and the queue behind them) waited for an answer that never came.
      proxy.freeze();
      const stuck = await Promise.allSettled([write(12), write(13), write(14)]);
      for (const outcome of stuck) expect(outcome).toMatchObject({ status: 'rejected', reason: expect.any(StoreUnavailableError) });
      expect((stuck[0] as PromiseRejectedResult).reason.message).toMatch(/Query read timeout|timeout exceeded when trying to connect/);
      await expect(store.recordOutcomes([{ mql_id: 'lead-0011', won_date: '2018-04-01', converted: true }])).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(await store.health()).toMatchObject({ status: 'down' });

      proxy.thaw();
      await write(15);
      expect(await store.health()).toMatchObject({ status: 'up' });
      const stored = (await store.listPredictions({})).predictions.map((p) => p.mql_id);
      expect(stored).toEqual(expect.arrayContaining(['lead-0011', 'lead-0015']));
      await proxy.close();
    });

    it('breaks off a read or an export within the read timeout while the server stops answering, instead of holding the request open', async () => {
      const own = await freshSchema();
      // More than one export chunk (1,000 rows), so the export is still reading when the server
      // freezes; written directly, outside the short timeouts below.
      const direct = await openPg(own.url());
      await direct.recordScores({ request_id: 'many', scored_at: new Date(), model_version: 'm', leads: leads(2500, 20_000) });
      await direct.close();
      const proxy = await startProxy(new URL(serverUrl!));
      const store = await openPg(own.url(proxy.url), { answerTimeoutMs: 1500, readTimeoutMs: 1000 });
      stores.push(store);
      const exported = store.exportPredictions({})[Symbol.asyncIterator]();
      expect((await exported.next()).value).toHaveLength(1000);

      proxy.freeze();
      const frozen = await Promise.allSettled([exported.next(), store.listPredictions({}), store.summarize({}, 'day')]);
      for (const outcome of frozen) expect(outcome).toMatchObject({ status: 'rejected', reason: expect.any(StoreUnavailableError) });

      proxy.thaw();
      expect(await exportedRows(store)).toBe(2500);

      await proxy.close();
      await own.drop();
    });

    it('has the server cancel a read that runs past the read timeout, so reads stuck behind a lock do not pile up', async () => {
      const own = await freshSchema();
      const store = await openPg(own.url(), { readTimeoutMs: 1000 });
      stores.push(store);
      await store.recordScores({ request_id: 'r', scored_at: new Date(), model_version: 'm', leads: [lead(1)] });
      await whileOutcomesLocked(own.schema, async () => {
        const stuck = await Promise.allSettled([store.summarize({}, 'day'), store.listPredictions({}), store.summarize({}, 'week')]);
        for (const outcome of stuck) expect(outcome).toMatchObject({ status: 'rejected', reason: expect.any(StoreUnavailableError) });
        expect((stuck[0] as PromiseRejectedResult).reason.message).toMatch(/statement timeout/);
        // Not "retry in 5 s": the same read would run as long again.
        expect((stuck[0] as PromiseRejectedResult).reason).toMatchObject({ retryAfterSeconds: 1, advice: 'the read ran past STORE_READ_TIMEOUT_MS (1000 ms) and was cancelled: narrow it (since, until, filters) or raise the limit' });
        // Cancelled by the server, not just given up on here: none of them still waits for the lock.
        expect(await sessions(own.schema, 'active')).toBe(0);
      });
      expect((await store.listPredictions({})).predictions).toHaveLength(1);
      await store.close();
      await own.drop();
    });

    it('has the server end an outcome upload stuck behind a lock when the client gives up on it, so none is left waiting', async () => {
      const own = await freshSchema();
      const store = await openPg(own.url(), { answerTimeoutMs: 1000 });
      stores.push(store);
      await whileOutcomesLocked(own.schema, async () => {
        const uploads = await Promise.allSettled(Array.from({ length: 3 }, (_, i) => store.recordOutcomes([{ mql_id: `lead-${i}`, won_date: '2026-03-01', converted: true }])));
        for (const upload of uploads) expect(upload).toMatchObject({ status: 'rejected', reason: expect.any(StoreUnavailableError) });
        // Cancelled by the server too: none of them still waits for the lock, holding a connection the pool has replaced.
        expect(await sessions(own.schema, 'waiting on a lock')).toBe(0);
      });
      expect(await store.recordOutcomes([{ mql_id: 'lead-0', won_date: '2026-03-01', converted: true }])).toMatchObject({ received: 1, updated: 1 });
      await store.close();
      await own.drop();
    });

    it('keeps scoring and answering the health check while slow reads and outcome uploads hold every connection of theirs', async () => {
      const own = await freshSchema();
      // A short write timeout: a write that waited for a connection held by a read would fail with it.
      const store = await openPg(own.url(), { answerTimeoutMs: 1500, readTimeoutMs: 20_000 });
      stores.push(store);
      await store.recordScores({ request_id: 'r', scored_at: new Date(), model_version: 'm', leads: [lead(1)] });
      let stuck: Promise<unknown>[] = [];
      let uploads: Promise<unknown>[] = [];
      await whileOutcomesLocked(own.schema, async () => {
        // Twelve dashboard reads and four outcome uploads, more than their connections: every one waits behind the lock.
        stuck = Array.from({ length: 12 }, (_, i) => (i % 2 ? store.summarize({}, 'day') : store.listPredictions({})));
        uploads = Array.from({ length: 4 }, (_, i) => store.recordOutcomes([{ mql_id: `lead-${9000 + i}`, won_date: '2026-03-01', converted: true }]));
        while ((await sessions(own.schema, 'waiting on a lock')) < 5 + 2) await new Promise((resolve) => setImmediate(resolve));

        await store.recordScores({ request_id: 'during', scored_at: new Date(), model_version: 'm', leads: leads(3, 2) });
        expect(await store.health()).toMatchObject({ status: 'up' });
      });
      // The reads then all finish; an upload that waited past the write timeout was refused, not lost in silence.
      for (const outcome of await Promise.allSettled(stuck)) expect(outcome.status).toBe('fulfilled');
      for (const outcome of await Promise.allSettled(uploads)) if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(StoreUnavailableError);
      expect(await store.recordOutcomes([{ mql_id: 'lead-0002', won_date: '2026-03-01', converted: true }])).toMatchObject({ matched: 1 });
      expect((await store.listPredictions({})).predictions).toHaveLength(4);
      await store.close();
      await own.drop();
    });

    it('times an export per chunk, so a reader slower than the read timeout in all still gets every row', async () => {
      const own = await freshSchema();
      const store = await openPg(own.url(), { readTimeoutMs: 500 });
      stores.push(store);
      await store.recordScores({ request_id: 'r', scored_at: new Date(), model_version: 'm', leads: leads(50, 40_000) });
      let rows = 0;
      const started = performance.now();
      for await (const chunk of store.exportPredictions({}, { chunkSize: 5 })) {
        rows += chunk.length;
        await new Promise((resolve) => setTimeout(resolve, 100)); // a download read slowly
      }
      expect(performance.now() - started).toBeGreaterThan(500); // longer in all than one read may take
      expect(rows).toBe(50);
      await store.close();
      await own.drop();
    });

    it('fails an export whose connection the server ends mid-way, and only that export', async () => {
      const own = await freshSchema();
      const store = await openPg(own.url());
      stores.push(store);
      await store.recordScores({ request_id: 'many', scored_at: new Date(), model_version: 'm', leads: leads(2500, 30_000) });
      const exported = store.exportPredictions({})[Symbol.asyncIterator]();
      expect((await exported.next()).value).toHaveLength(1000);
      // A restart, a failover or an administrator ending the session: the export's connection is gone.
      // While the export waits for its reader (a paused download), not while it reads.
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [own.schema]);
      const gone = async () => (await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [own.schema])).rows[0].n === 0;
      while (!(await gone()));
      await admin.query('SELECT 1'); // a round trip more: the ended session's last message has reached the store's socket
      await expect(exported.next()).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(await exportedRows(store)).toBe(2500);
      await store.close();
      await own.drop();
    });

    it('replaces connections the server terminated (a restart or failover) without failing a write', async () => {
      const own = await freshSchema();
      const errors: Error[] = [];
      const store = await openPg(own.url(), { onBackgroundError: (error) => errors.push(error) });
      stores.push(store);
      await Promise.all([1, 2, 3].map((i) => store.recordScores({ request_id: `r${i}`, scored_at: new Date(), model_version: 'm', leads: [lead(i)] })));
      const { rows } = await admin.query('SELECT pg_terminate_backend(pid) AS gone FROM pg_stat_activity WHERE application_name = $1', [own.schema]);
      expect(rows.length).toBeGreaterThan(0);
      // the pool hears of each termination as its idle connection's error, and drops it
      await new Promise<void>((resolve) => {
        const check = () => (errors.length >= rows.length ? resolve() : setImmediate(check));
        check();
      });
      await store.recordScores({ request_id: 'after', scored_at: new Date(), model_version: 'm', leads: [lead(4)] });
      expect((await store.listPredictions({})).predictions).toHaveLength(4);
      await own.drop();
    });
  });
}

async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A TCP relay to the test server that can be cut and restored, as a server stop and start look to a client. */
async function startProxy(target: URL) {
  const sockets = new Set<net.Socket>();
  let server: net.Server;
  let port = 0;
  // Frozen, the proxy holds what either side sends (new connections included), as a server that
  // stops answering without closing anything does; thawed, it delivers it all in order.
  let frozen = false;
  const held: [net.Socket, Buffer][] = [];
  const forward = (from: net.Socket, to: net.Socket) => from.on('data', (data: Buffer) => (frozen ? held.push([to, data]) : to.write(data)));
  const listen = async () => {
    server = net.createServer((client) => {
      const upstream = net.connect(Number(target.port || 5432), target.hostname);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      forward(client, upstream);
      forward(upstream, client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    server.listen(port, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    port = (server.address() as net.AddressInfo).port;
  };
  await listen();
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  const down = async () => {
    const closed = new Promise((resolve) => server.close(resolve));
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  const freeze = () => void (frozen = true);
  const thaw = () => {
    frozen = false;
    for (const [to, data] of held.splice(0)) if (!to.destroyed) to.write(data);
  };
  return { url: url.toString(), down, up: listen, close: down, freeze, thaw };
}
