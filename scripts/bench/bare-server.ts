// The reference point for the benchmark: Fastify with the service's logger settings, request ids
// and hooks, and routes that do no work of their own, answering bodies of the same size as the
// real ones. Its request ids, hooks and log line are the service's own plugin
// (src/server/plugins/requests.ts), so the comparison measures the scoring work and what the
// service adds in front of it (security headers, load shedding, metrics), nothing else.
// BARE_PROTECTION=headers adds the service's own protection plugin with security headers only,
// BARE_PROTECTION=all with load shedding too: what each costs, on a server that does nothing else.
import Fastify, { LogController } from 'fastify';
import pino from 'pino';
import protection from '../../src/server/plugins/protection.js';
import requests, { requestId } from '../../src/server/plugins/requests.js';

const logger = pino({ level: 'info', base: { pid: process.pid } });
const app = Fastify({
  loggerInstance: logger,
  logController: new LogController({ disableRequestLogging: true }),
  bodyLimit: 10 * 1024 * 1024,
  requestIdHeader: false,
  genReqId: requestId,
});
const withProtection = process.env.BARE_PROTECTION;
if (withProtection) await app.register(protection, { maxEventLoopDelayMs: withProtection === 'all' ? 1000 : 0 });
const prediction = JSON.parse(process.env.BARE_PREDICTION!) as Record<string, unknown>;
const { model_version, ...item } = prediction;

await app.register(requests);
app.post('/predict', async (request) => {
  request.modelVersion = model_version as string;
  return prediction;
});
// Node's own JSON floor: parse the body, answer an array of the same length and size.
app.post('/batch-predict', async (request) => {
  const { leads } = request.body as { leads: unknown[] };
  request.modelVersion = model_version as string;
  request.batchSize = leads.length;
  return { model_version, predictions: leads.map(() => item) };
});
app.get('/health', async () => ({ status: 'ok' }));

await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
// Exits on SIGTERM as the service does, so `node --cpu-prof` writes its profile.
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
