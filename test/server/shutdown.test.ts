// Graceful shutdown of the real process: in-flight requests finish, keep-alive clients drain.
import http from 'node:http';
import net from 'node:net';
import { describe, it } from 'vitest';
import { trainedFixture } from '../model/helpers.js';
import { savedFixture, startServer } from './process.js';

/** Resolves once `condition` holds, checking every few milliseconds. */
async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** Whether a new connection to the port is refused (the server has stopped listening). */
const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });

// Concurrent: each test has a server of its own, and most of each is waiting on its drain.
describe.concurrent('graceful shutdown', { timeout: 60_000 }, () => {
  it('finishes an in-flight request after SIGTERM while /health says 503, then exits 0', async ({ expect }) => {
    const server = await startServer({ MODEL_PATH: await savedFixture(), SHUTDOWN_DRAIN_MS: '1000' });
    const lead = trainedFixture().leads[0]!;
    const body = JSON.stringify({ leads: Array.from({ length: 200 }, (_, i) => ({ ...lead, mql_id: `lead-${i}` })) });
    // A slow client: half the body before the signal, the rest once the server has stopped listening.
    const req = http.request({ port: server.port, method: 'POST', path: '/batch-predict', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
    const connected = new Promise<void>((resolve) => req.on('socket', (socket) => socket.once('connect', () => resolve())));
    const inFlight = new Promise<{ status: number; body: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      });
      req.on('error', reject);
    });
    req.write(body.slice(0, body.length / 2));
    await connected;
    server.child.kill('SIGTERM');
    await until(() => /shutting down: readiness now 503/.test(server.stdout()));
    const health = await fetch(`http://127.0.0.1:${server.port}/health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual({ status: 'shutting_down' });
    // After the drain the server takes no new connection; the request it is in the middle of still gets its answer.
    await until(() => refused(server.port));
    req.end(body.slice(body.length / 2));
    const finished = await inFlight;
    expect(finished.status).toBe(200);
    expect(JSON.parse(finished.body).predictions).toHaveLength(200);
    expect(await server.exited).toBe(0);
    expect(server.stdout()).toMatch(/"msg":"stopped"/);
  });

  it('drains keep-alive clients under load: no reset, no failed request, exit 0 within the drain plus 2 s', async ({ expect }) => {
    // The drain is what a deployment sizes to its load balancer's detection time; here it leaves the
    // probing balancer below ~900 ms to notice, even on a machine the whole suite keeps busy.
    const drainMs = 1000;
    const server = await startServer({ MODEL_PATH: await savedFixture(), SHUTDOWN_DRAIN_MS: String(drainMs) });
    // Clients as a load balancer's or CRM's HTTP agent keeps them: 16 sockets that stay open until the server closes them.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 17 });
    const lead = trainedFixture().leads[0]!;
    const send = (path: string, body: string, slowUntil?: Promise<unknown>) =>
      new Promise<number>((resolve, reject) => {
        const req = http.request({ port: server.port, method: 'POST', path, agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        req.on('error', reject);
        if (!slowUntil) return void req.end(body);
        req.write(body.slice(0, body.length / 2));
        slowUntil.then(() => req.end(body.slice(body.length / 2)));
      });
    const readiness = () =>
      new Promise<number>((resolve, reject) => {
        http.get({ port: server.port, path: '/health', agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        }).on('error', reject);
      });
    // The load balancer: it probes readiness every 50 ms and stops routing at the first 503.
    let routing = true;
    const balancer = async () => {
      while (routing) {
        if ((await readiness()) === 503) routing = false;
        else await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    let answered = 0;
    let warmedUp!: () => void;
    const warm = new Promise<void>((resolve) => (warmedUp = resolve));
    const failures: string[] = [];
    const count = (status: Promise<number>) =>
      status.then(
        // A failure ends the warm-up too, so the test shows it instead of waiting for its timeout.
        (code) => (code === 200 ? ++answered === 500 && warmedUp() : (failures.push(`HTTP ${code}`), warmedUp())),
        (error: NodeJS.ErrnoException) => (failures.push(error.code ?? String(error)), warmedUp()),
      );
    const client = async () => {
      while (routing) await count(send('/predict', JSON.stringify(lead)));
    };
    const clients = Array.from({ length: 16 }, client);
    await warm; // 500 answered: the clients' connections are open and busy
    // And one upload still arriving when the server begins to close.
    let signalled = 0;
    let finishUpload!: () => void;
    const uploadRest = new Promise<void>((resolve) => (finishUpload = resolve));
    const upload = count(send('/batch-predict', JSON.stringify({ leads: Array.from({ length: 200 }, (_, i) => ({ ...lead, mql_id: `lead-${i}` })) }), uploadRest));
    signalled = Date.now();
    server.child.kill('SIGTERM');
    const probing = balancer();
    setTimeout(finishUpload, drainMs + 200);
    const code = await server.exited;
    const elapsed = Date.now() - signalled;
    routing = false;
    await Promise.all([...clients, upload, probing.catch(() => undefined)]);
    agent.destroy();
    expect(failures).toEqual([]);
    expect(code).toBe(0);
    expect(elapsed).toBeLessThan(drainMs + 2000);
    expect(answered).toBeGreaterThan(501);
  });
});
