// Security headers and load shedding: what a service facing a CRM and the internet needs in front of its routes.
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import helmet from 'helmet';
import { HttpError } from '../errors.js';

export interface ProtectionOptions {
  /** Above this event-loop delay requests get 503 with Retry-After; 0 turns the check off. */
  maxEventLoopDelayMs: number;
  /** How often the delay is sampled (under-pressure's default, 1 s, unless a test needs it sooner). */
  sampleIntervalMs?: number;
}

const RETRY_AFTER_S = 5;

/** Overload answers at once in the service's error shape, so clients back off instead of timing out. */
class Overloaded extends HttpError {
  constructor() {
    super(503, `the server is overloaded; retry after ${RETRY_AFTER_S} s`, undefined, undefined, { 'retry-after': String(RETRY_AFTER_S) });
  }
}

async function protection(app: FastifyInstance, options: ProtectionOptions): Promise<void> {
  // An API that serves JSON and CSV: no page may frame it or run scripts from it. Swagger UI sets its own policy.
  // helmet's middleware, built once: @fastify/helmet built it anew on every request, parsing the
  // content policy each time, which was about 11 % of a /predict's CPU (node --cpu-prof, 64
  // connections). The headers are the same, set on every response, 404s and errors included.
  const securityHeaders = helmet({
    contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    crossOriginEmbedderPolicy: false,
  });
  app.addHook('onRequest', (request, reply, done) => securityHeaders(request.raw, reply.raw, done as (error?: unknown) => void));
  if (options.maxEventLoopDelayMs > 0) {
    await app.register(underPressure, {
      maxEventLoopDelay: options.maxEventLoopDelayMs,
      retryAfter: RETRY_AFTER_S,
      ...(options.sampleIntervalMs ? { sampleInterval: options.sampleIntervalMs } : {}),
      customError: Overloaded,
    });
  }
}

/**
 * Route config for liveness: an overloaded process is still alive, and a liveness probe that
 * failed under load would have the orchestrator kill the very pods that are busiest.
 */
export const exemptFromPressure = { pressureHandler: () => undefined };

export default fp(protection, { name: 'protection' });
