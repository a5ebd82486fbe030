// The reference point for the benchmark: Fastify with the service's logger settings and routes
// that do no work of their own, answering bodies of the same size as the real ones.
import Fastify, { LogController } from 'fastify';
import pino from 'pino';

const logger = pino({ level: 'info', base: { pid: process.pid } });
const app = Fastify({ loggerInstance: logger, logController: new LogController({ disableRequestLogging: true }), bodyLimit: 10 * 1024 * 1024 });
const prediction = JSON.parse(process.env.BARE_PREDICTION!) as Record<string, unknown>;
const { model_version, ...item } = prediction;

app.addHook('onResponse', async (request, reply) => {
  request.log.info({ method: request.method, route: request.routeOptions.url, status: reply.statusCode, duration_ms: reply.elapsedTime }, 'request');
});
app.post('/predict', async () => prediction);
// Node's own JSON floor: parse the body, answer an array of the same length and size.
app.post('/batch-predict', async (request) => ({ model_version, predictions: (request.body as { leads: unknown[] }).leads.map(() => item) }));
app.get('/health', async () => ({ status: 'ok' }));

await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
