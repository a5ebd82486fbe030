// One error shape for the whole service: the error and not-found handlers, and the JSON body parser.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import secureJson from 'secure-json-parse';
import { checkUtf8, Utf8Error } from '../../data/utf8.js';
import { errorBody, HttpError, sendError } from '../errors.js';
import { SECURITY_HEADERS } from './protection.js';
import { logRequest, markResponse } from './requests.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** For a CSV body, the file line each lead ends on, so errors can name it. */
    csvLines: number[] | null;
  }
}

const UTF8 = /^utf-?8$/i;
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)/i;

/** The body's declared charset, refused unless it is UTF-8: decoding Latin-1 as UTF-8 would silently corrupt ids. */
export function checkCharset(request: FastifyRequest): void {
  const charset = CHARSET.exec(request.headers['content-type'] ?? '')?.[1];
  if (charset !== undefined && !UTF8.test(charset)) {
    throw new HttpError(415, `the body's charset "${charset}" is not supported; send UTF-8`);
  }
}

function parseJson(request: FastifyRequest, bytes: Buffer): unknown {
  checkCharset(request);
  if (bytes.length === 0) throw new HttpError(400, 'the body is empty; send a JSON document');
  try {
    checkUtf8(bytes);
  } catch (error) {
    if (!(error instanceof Utf8Error)) throw error;
    throw new HttpError(400, `the body is not valid UTF-8: on line ${error.line}, ${error.message}`);
  }
  const body = bytes.toString('utf8');
  try {
    return secureJson.parse(body, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (error) {
    let valid = true;
    try {
      JSON.parse(body);
    } catch {
      valid = false;
    }
    // secure-json-parse refuses well-formed JSON that would poison prototypes; say that, not "invalid".
    if (valid) throw new HttpError(400, 'the body holds a "__proto__" or "constructor.prototype" key, which is refused; rename that field');
    throw new HttpError(400, `the body is not valid JSON (${(error as Error).message})`);
  }
}

/**
 * The longest path parameter the router takes, in characters as sent: a lead id of 128 characters,
 * each up to three UTF-8 bytes, each byte percent-encoded. Fastify's default, 100, answered a
 * valid 101-character id with a 414.
 */
export const MAX_PATH_PARAM_LENGTH = 128 * 3 * 3;

/**
 * The router's own refusals (a malformed %-escape, an over-long parameter), in the service's error
 * shape. Fastify sends them before any hook runs, so this does what the hooks do for every other
 * response: the security headers, the request id (and the connection's end while draining), and
 * the request's log line.
 */
export function frameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const [status, message] =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? [414, `a path segment is longer than ${MAX_PATH_PARAM_LENGTH} characters; a lead id is at most 128 characters`]
      : [400, 'the URL holds a malformed %-escape; encode reserved and non-ASCII characters as %XX of their UTF-8 bytes'];
  reply.headers(SECURITY_HEADERS);
  markResponse(request, reply);
  reply.code(status).send(errorBody(status, message));
  logRequest(request, reply);
}

async function errors(app: FastifyInstance, options: { bodyLimit: number }): Promise<void> {
  app.decorateRequest('csvLines', null);
  app.removeContentTypeParser(['application/json', 'text/plain']); // JSON (and CSV where a route adds it) only: anything else is a 415
  // As bytes, not a string: Fastify's string decoding replaces bytes that are not UTF-8 without a word.
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    try {
      done(null, parseJson(request, body as Buffer));
    } catch (error) {
      done(error as Error, undefined);
    }
  });

  app.setErrorHandler((error, request, reply) => {
    if (error instanceof HttpError && error.details && error.detailPaths && request.csvLines) {
      const lines = request.csvLines;
      error.details.forEach((detail, i) => {
        // A CSV body becomes one array (leads, outcomes): its index is the row.
        const index = error.detailPaths![i]?.[1];
        const line = typeof index === 'number' ? lines[index] : undefined;
        if (line !== undefined) {
          detail.line = line;
          detail.message += ` (CSV line ${line})`;
        }
      });
    }
    return sendError(error as Error, request, reply, options.bodyLimit);
  });

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(errorBody(404, `no route ${request.method} ${request.url.split('?')[0]}; see /docs for the API`));
  });
}

export default fp(errors, { name: 'errors' });
