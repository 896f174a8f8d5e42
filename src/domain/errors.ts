// Every expected failure is one of these; src/schema/errors.ts maps `code` to `extensions.code` once.
// Anything else is unexpected and stays masked.
export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'INVALID_STATE'
  | 'STALE_READ'
  | 'RATE_LIMITED'
  | 'QUERY_TOO_COMPLEX'
  | 'ROLE_NOT_SERVED'
  | 'SERVICE_UNAVAILABLE';

export abstract class AppError extends Error {
  abstract readonly code: ErrorCode;
  constructor(
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends AppError {
  readonly code = 'BAD_USER_INPUT';
}
export class UnauthenticatedError extends AppError {
  readonly code = 'UNAUTHENTICATED';
}
export class ForbiddenError extends AppError {
  readonly code = 'FORBIDDEN';
}
export class NotFoundError extends AppError {
  readonly code = 'NOT_FOUND';
}
export class ConflictError extends AppError {
  readonly code = 'CONFLICT';
}
export class InvalidStateError extends AppError {
  readonly code = 'INVALID_STATE';
}
export class StaleReadError extends AppError {
  readonly code = 'STALE_READ';
}
/** A field whose role this instance does not run (a mutation sent to a query-only instance). */
export class RoleNotServedError extends AppError {
  readonly code = 'ROLE_NOT_SERVED';
}
/**
 * A server the operation needs does not answer (Postgres for commands, Redis for reads), or the command
 * path is full: the client should retry after `retryAfterSeconds`. A command may or may not have been
 * applied: repeat it with the same idempotency key.
 */
export class ServiceUnavailableError extends AppError {
  readonly code = 'SERVICE_UNAVAILABLE';
  constructor(message: string, details: { server: string; retryAfterSeconds: number } & Record<string, unknown>) {
    super(message, details);
  }
}
