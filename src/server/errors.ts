// Errors: the mapping of any failure to a status and message, and the service's body for it, { statusCode, error, message, details? }.
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { StoreInputError, StoreUnavailableError } from '../store/index.js';

export interface ErrorDetail {
  path: string;
  message: string;
  /** The CSV line of the lead this detail concerns, when the body was CSV. */
  line?: number;
}

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  details?: ErrorDetail[];
}

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly details?: ErrorDetail[],
    /** zod's path of each detail, kept as data so the error handler can map `leads[i]` to its CSV line. */
    readonly detailPaths?: readonly (readonly PropertyKey[])[],
    /** Extra response headers, such as Retry-After on a 503. */
    readonly headers?: Readonly<Record<string, string>>,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** `leads[17].first_contact_date` from zod's ['leads', 17, 'first_contact_date']. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)), '');
}

export function validationError(issues: readonly z.core.$ZodIssue[], where: string): HttpError {
  const details = issues.map((issue) => ({ path: formatPath(issue.path) || where, message: issue.message }));
  const fields = [...new Set(details.map((d) => d.path))];
  const named = fields.slice(0, 5).join(', ') + (fields.length > 5 ? `, and ${fields.length - 5} more` : '');
  return new HttpError(400, `invalid ${where}: ${named}`, details, issues.map((issue) => issue.path));
}

export function errorBody(statusCode: number, message: string, details?: ErrorDetail[]): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message, ...(details ? { details } : {}) };
}

/** Fastify's own client errors, reworded to say what to send instead. */
function clientErrorMessage(error: FastifyError, request: FastifyRequest, bodyLimit: number): string {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return 'the body is not valid JSON';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'the body is empty; send a JSON lead';
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return `the body is larger than BODY_LIMIT, ${bodyLimit} bytes; send fewer leads per request`;
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return `unsupported content type ${JSON.stringify(request.headers['content-type'] ?? '')}; send application/json${request.url.startsWith('/batch-predict') ? ' or text/csv' : ''}`;
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return 'the Content-Length header does not match the body';
    default:
      return error.message;
  }
}

/** What any error means for the client: status, message, details and headers, whichever error shape carries them. */
export interface ErrorDescription {
  statusCode: number;
  message: string;
  details?: ErrorDetail[];
  headers?: Readonly<Record<string, string>>;
}

export function describeError(error: FastifyError | HttpError | Error, request: FastifyRequest, bodyLimit: number): ErrorDescription {
  if (error instanceof HttpError) return { statusCode: error.statusCode, message: error.message, details: error.details, headers: error.headers };
  if (error instanceof StoreUnavailableError) {
    // Never a silently unrecorded score: the client is told to retry, and the cause is logged. A
    // dashboard's read recorded nothing anyway, so it is not told so.
    request.log.warn({ err: error }, 'store unavailable');
    const reading = request.method === 'GET' || request.method === 'HEAD';
    return {
      statusCode: 503,
      message: `the score store is unavailable; ${error.advice ? `${error.advice}; ` : ''}${reading ? '' : 'nothing was recorded, '}retry after ${error.retryAfterSeconds} s`,
      headers: { 'retry-after': String(error.retryAfterSeconds) },
    };
  }
  if (error instanceof StoreInputError) return { statusCode: 400, message: `invalid query: ${error.message}`, details: [{ path: error.field, message: error.message }] };
  const status = (error as FastifyError).statusCode;
  if (status && status >= 400 && status < 500) return { statusCode: status, message: clientErrorMessage(error as FastifyError, request, bodyLimit) };
  // Anything else is our fault: the client gets no internals, the log gets everything.
  request.log.error({ err: error }, 'request failed');
  return { statusCode: 500, message: 'the server failed to handle this request; it has been logged' };
}

export function sendError(error: FastifyError | HttpError | Error, request: FastifyRequest, reply: FastifyReply, bodyLimit: number): FastifyReply {
  const { statusCode, message, details, headers } = describeError(error, request, bodyLimit);
  if (headers) reply.headers(headers);
  return reply.code(statusCode).send(errorBody(statusCode, message, details));
}
