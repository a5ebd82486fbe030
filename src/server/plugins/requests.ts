// Per-request plumbing: the request id header, one log line per request, and draining on shutdown.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

// Request ids from clients are echoed and logged, so only short plain tokens are taken; anything else gets a fresh id.
const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Fastify's genReqId: the client's x-request-id when it is a plain token, else a fresh one. */
export function requestId(request: IncomingMessage): string {
  const incoming = request.headers['x-request-id'];
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Readiness turns 503 and every response closes its connection, so load balancers and keep-alive clients move away. */
    beginShutdown(): void;
    readonly shuttingDown: boolean;
  }
  interface FastifyRequest {
    /** Leads in a batch request, for the log line. */
    batchSize: number | null;
    /** The model version that scored the request, for the log line. */
    modelVersion: string | null;
  }
}

async function requests(app: FastifyInstance): Promise<void> {
  let draining = false;
  app.decorate('beginShutdown', () => {
    draining = true;
  });
  app.decorate('shuttingDown', {
    getter: () => draining,
  });
  app.decorateRequest('batchSize', null);
  app.decorateRequest('modelVersion', null);

  // Callback-style hooks: an async hook costs a promise per request on the hot path.
  // onSend rather than onRequest: a request that began before the drain must close its
  // connection too, or its idle keep-alive socket holds the server's close open until the client
  // drops it. While draining each response ends its connection, so the client opens its next
  // request elsewhere instead of having an idle socket cut under it when the server closes.
  app.addHook('onSend', (request, reply, payload, done) => {
    markResponse(request, reply);
    done(null, payload);
  });
  app.addHook('onResponse', (request, reply, done) => {
    logRequest(request, reply);
    done();
  });
}

/** The request id on every response, and while draining the end of its connection (see onSend above). */
export function markResponse(request: FastifyRequest, reply: FastifyReply): void {
  reply.header('x-request-id', request.id);
  if (request.server.shuttingDown) reply.header('connection', 'close');
}

/** The one log line per request: by the onResponse hook, or by the router's own refusals, which no hook sees. */
export function logRequest(request: FastifyRequest, reply: FastifyReply): void {
  request.log.info(
    {
      method: request.method,
      route: request.routeOptions?.url ?? 'unknown',
      status: reply.statusCode,
      duration_ms: Math.round(reply.elapsedTime * 100) / 100,
      ...(request.modelVersion ? { model_version: request.modelVersion } : {}),
      ...(request.batchSize ? { batch_size: request.batchSize } : {}),
    },
    'request',
  );
}

export default fp(requests, { name: 'requests' });
