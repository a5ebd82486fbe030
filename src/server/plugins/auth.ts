// API keys with roles: `app.requireRole('score')` is the onRequest hook a route lists.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import type { ApiKey, Role } from '../config.js';
import { HttpError } from '../errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The hook that lets a request through only with a key holding `role`; none at all when no keys are configured. */
    requireRole(role: Role): onRequestHookHandler[];
    /** The OpenAPI security requirement of routes that take a key. */
    readonly security: { apiKey: never[] }[];
  }
}

const digest = (key: string) => createHash('sha256').update(key).digest();
// RFC 7235: the scheme name is case-insensitive.
const BEARER = /^bearer +(\S+)\s*$/i;

async function auth(app: FastifyInstance, options: { apiKeys: readonly ApiKey[] }): Promise<void> {
  const keys = options.apiKeys.map(({ key, roles }) => ({ digest: digest(key), roles: new Set(roles) }));

  /** The roles of the offered key. Comparing fixed-length digests in constant time leaks neither a key nor its length. */
  const rolesOf = (request: FastifyRequest) => {
    const match = BEARER.exec(request.headers.authorization ?? '');
    if (!match) throw new HttpError(401, 'missing API key: send Authorization: Bearer <key>', undefined, undefined, { 'www-authenticate': 'Bearer' });
    const offered = digest(match[1]!);
    let found: Set<Role> | null = null;
    for (const key of keys) if (timingSafeEqual(offered, key.digest)) found = key.roles;
    if (!found) throw new HttpError(401, 'the API key is not valid', undefined, undefined, { 'www-authenticate': 'Bearer' });
    return found;
  };

  const hooks = new Map<Role, onRequestHookHandler[]>();
  app.decorate('requireRole', (role: Role) => {
    // Without keys there is no hook at all, rather than one that returns at once on every request;
    // but changing the model is never open to anyone who can reach the port.
    if (!keys.length && role !== 'admin') return [];
    let hook = hooks.get(role);
    if (!hook) {
      hook = [
        (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) => {
          if (!keys.length) return done(new HttpError(403, 'admin routes need API_KEYS with a key holding the admin role'));
          try {
            if (!rolesOf(request).has(role)) throw new HttpError(403, `this API key lacks the role "${role}"`);
            done();
          } catch (error) {
            done(error as Error);
          }
        },
      ];
      hooks.set(role, hook);
    }
    return hook;
  });
  app.decorate('security', [{ apiKey: [] as never[] }]);
}

export default fp(auth, { name: 'auth' });
