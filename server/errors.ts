// errors.ts - the service layer's errors; REST and gRPC each map them to their status codes.

/** A bad value as an error message quotes it: JSON, at most 60 characters (a message that
 * repeated an 8 KB value went past gRPC's metadata limit and failed the client's connection). */
export function quote(v: unknown): string {
  const t = JSON.stringify(v) ?? String(v);
  return t.length > 60 ? `${t.slice(0, 45)}... (${t.length} chars)` : t;
}

export interface FieldError {
  field: string;   // dotted path into the request, e.g. "key.src_port" or "flows[2].action.type"
  message: string;
}

/** The request is wrong; nothing was written. REST 400, gRPC INVALID_ARGUMENT. */
export class ValidationError extends Error {
  constructor(readonly errors: FieldError[]) {
    super(errors.map((e) => `${e.field}: ${e.message}`).join('; '));
    this.name = 'ValidationError';
  }
  static one(field: string, message: string): ValidationError {
    return new ValidationError([{ field, message }]);
  }
}

/** REST 404, gRPC NOT_FOUND. */
export class NotFoundError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

/** A limit reached (the map is full, a watcher too slow); nothing was written. REST 409, gRPC
 * RESOURCE_EXHAUSTED. */
export class CapacityError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
    this.name = 'CapacityError';
  }
}

/** The request contradicts what exists (a rule owned by a PCC rule changed on its own). REST
 * 409, gRPC FAILED_PRECONDITION; nothing was written. */
export class ConflictError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

/** A watch asked for a revision the change log no longer holds. gRPC FAILED_PRECONDITION. */
export class CompactedError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
    this.name = 'CompactedError';
  }
}

/** No valid credentials; nothing was done. REST 401, gRPC UNAUTHENTICATED. */
export class UnauthenticatedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnauthenticatedError';
  }
}

/** Not now: the maps are being repaired. REST 503, gRPC UNAVAILABLE (clients retry). */
export class UnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnavailableError';
  }
}

/** A value past the end of what exists (a watch from a revision not reached yet). REST 400,
 * gRPC OUT_OF_RANGE. */
export class OutOfRangeError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
    this.name = 'OutOfRangeError';
  }
}
