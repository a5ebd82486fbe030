// Small pieces every route file shares: content types, the error responses they document, content negotiation.
import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import Negotiator from 'negotiator';
import { ErrorSchema } from './schemas.js';

export const JSON_TYPE = 'application/json; charset=utf-8';
export const CSV_TYPE = 'text/csv; charset=utf-8';

export const errorResponses = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 413: ErrorSchema, 415: ErrorSchema, 503: ErrorSchema };

/**
 * Sends a body the route wrote itself (the scoring responses are assembled from prepared
 * fragments, or streamed); Fastify passes a string, Buffer or stream through as it is.
 */
export function sendWritten(reply: FastifyReply, contentType: string, body: string | Buffer | Readable): FastifyReply {
  return reply.type(contentType).send(body);
}

/**
 * CSV when the client prefers it to JSON by the Accept header's q-values (RFC 9110 §12.5.1).
 * Anything that accepts neither gets JSON, the documented default, rather than a 406 a CRM would not expect.
 */
export function wantsCsv(request: FastifyRequest, reply: FastifyReply): boolean {
  reply.header('vary', 'Accept');
  if (request.headers.accept === undefined) return false;
  return negotiate(request).mediaType(['application/json', 'text/csv']) === 'text/csv';
}

/**
 * The Accept* headers read by negotiator, the library @fastify/accepts wraps: its other layer
 * (accepts, with mime-types and their database) only maps file extensions, which no route needs,
 * and took 16–23 ms of every start against negotiator's 4–7 ms (require() alone, six runs each).
 */
export function negotiate(request: FastifyRequest): Negotiator {
  return new Negotiator({ headers: request.headers });
}
