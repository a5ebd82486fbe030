// The store's errors, typed so the server can answer each with the right status.

export class StoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
  }
}

/** The store cannot be reached or written right now (503 with Retry-After); it recovers by itself. */
export class StoreUnavailableError extends StoreError {
  /** Seconds a client should wait before retrying. */
  readonly retryAfterSeconds: number;
  /** What the client can do about it, when there is more to say than to retry (the message itself stays in the log). */
  readonly advice: string | undefined;
  constructor(message: string, options?: { cause?: unknown; retryAfterSeconds?: number; advice?: string }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
    this.retryAfterSeconds = options?.retryAfterSeconds ?? 5;
    this.advice = options?.advice;
  }
}

/** A query argument a client sent is unusable (400); `field` names it. */
export class StoreInputError extends StoreError {
  constructor(readonly field: string, message: string) {
    super(`${field} ${message}`);
    this.name = 'StoreInputError';
  }
}

/** STORE_URL cannot be read, or the database holds a schema this build does not know: the process should not start. */
export class StoreConfigError extends StoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreConfigError';
  }
}
