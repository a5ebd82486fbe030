// The score store as the routes see it: `app.store`, or null when STORE_URL=none.
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import type { Store } from '../../store/index.js';
import { HttpError } from '../errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    readonly store: Store | null;
    /** Hooks for routes that read or write the store: a 404 saying the store is off when there is none. */
    readonly requireStore: onRequestHookHandler[];
  }
}

async function storePlugin(app: FastifyInstance, options: { store: Store | null }): Promise<void> {
  app.decorate('store', options.store);
  app.decorate(
    'requireStore',
    options.store
      ? []
      : [
          (_request, _reply, done) => done(new HttpError(404, 'the score store is off (STORE_URL=none): this service keeps no scores or outcomes')),
        ],
  );
}

export default fp(storePlugin, { name: 'store' });
