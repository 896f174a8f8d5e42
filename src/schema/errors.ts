import { randomUUID } from 'node:crypto';
import { GraphQLError } from 'graphql';
import { handleStreamOrSingleExecutionResult, isAsyncIterable, mapAsyncIterator, type Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import { AppError, type ErrorCode, ServiceUnavailableError } from '../domain/errors.js';

// The one place an error becomes what a client sees: an `extensions.code` from the contract (API.md),
// whoever raised it (our code, graphql-js, Yoga, graphql-armor, graphql-ws). Anything unexpected is
// masked as INTERNAL_SERVER_ERROR carrying the correlation id, and logged in full under that id.

export type DocumentedCode = ErrorCode | 'INTERNAL_SERVER_ERROR' | 'PERSISTED_QUERY_NOT_FOUND';
const codes: Record<DocumentedCode, true> = {
  BAD_USER_INPUT: true,
  UNAUTHENTICATED: true,
  FORBIDDEN: true,
  NOT_FOUND: true,
  CONFLICT: true,
  INVALID_STATE: true,
  STALE_READ: true,
  RATE_LIMITED: true,
  QUERY_TOO_COMPLEX: true,
  ROLE_NOT_SERVED: true,
  SERVICE_UNAVAILABLE: true,
  INTERNAL_SERVER_ERROR: true,
  // Raised by src/security/trustedDocuments.ts, not by an AppError.
  PERSISTED_QUERY_NOT_FOUND: true,
};
export const documentedCodes: ReadonlySet<string> = new Set(Object.keys(codes));

/** Codes graphql-js and Yoga give a request they refuse (unparsable, invalid, malformed, too big). */
const frameworkCodes: Record<string, ErrorCode> = {
  GRAPHQL_PARSE_FAILED: 'BAD_USER_INPUT',
  GRAPHQL_VALIDATION_FAILED: 'BAD_USER_INPUT',
  BAD_REQUEST: 'BAD_USER_INPUT',
  OPERATION_RESOLUTION_FAILURE: 'BAD_USER_INPUT',
  REQUEST_ENTITY_TOO_LARGE: 'BAD_USER_INPUT',
};

export interface ErrorScope {
  /**
   * The request's correlation id. Absent only in Yoga's own masking, which is given the error alone: the
   * unexpected error is then returned unlogged, and `useDocumentedErrors` logs it with the request's id
   * once the result is on its way (an AsyncLocalStorage did this before: it costs every promise of the
   * process two async ids, about 5 % of a read's CPU and 1.7 KiB per subscriber).
   */
  correlationId?: string | undefined;
  log: Logger;
  /** Hides "Did you mean …?" hints, which name schema fields a client did not ask about. */
  production: boolean;
}

/** An expected error (AppError) as a GraphQL error with its documented code, else null. */
export function toGraphQLError(error: unknown): GraphQLError | null {
  const original = error instanceof GraphQLError && error.originalError ? error.originalError : error;
  if (!(original instanceof AppError)) return null;
  const located = error instanceof GraphQLError ? error : undefined;
  // Over HTTP, 503 with Retry-After (Yoga takes both from `http` and leaves them out of the body);
  // over WebSocket, withoutHttpHints drops them and the code says it all.
  const http = original instanceof ServiceUnavailableError ? { http: { status: 503, headers: { 'Retry-After': String(original.details.retryAfterSeconds ?? 1) } } } : {};
  return new GraphQLError(original.message, {
    nodes: located?.nodes,
    path: located?.path,
    extensions: { code: original.code, ...original.details, ...http },
  });
}

/** Any error as one a client may see. Idempotent: an error that already carries a documented code passes. */
export function documentedError(error: unknown, scope: ErrorScope): GraphQLError {
  const known = toGraphQLError(error);
  if (known) return known;
  if (error instanceof GraphQLError && !isUnexpected(error)) {
    const code = error.extensions.code;
    if (typeof code === 'string' && documentedCodes.has(code)) return error;
    const http = error.extensions.http as { status?: number } | undefined;
    // Yoga's CSRF prevention refuses a request without a preflight-forcing header with a bare 403.
    if (code == null && http?.status === 403) return rewrap(error, 'FORBIDDEN', scope);
    // graphql-js' own guard against nested introspection is a complexity limit like armor's.
    if (code === 'GRAPHQL_VALIDATION_FAILED' && error.message.startsWith('Maximum introspection depth exceeded')) return rewrap(error, 'QUERY_TOO_COMPLEX', scope);
    if (typeof code === 'string' && frameworkCodes[code]) return rewrap(error, frameworkCodes[code], scope);
    // Without a path it is about the request, not a field: a syntax error, a variable of the wrong type,
    // an unknown operation name. graphql-js and Yoga give those no code of their own.
    if (code == null && error.path == null) return rewrap(error, 'BAD_USER_INPUT', scope, { status: 400, spec: true });
  }
  const cause = error instanceof GraphQLError && error.originalError ? error.originalError : error;
  const path = error instanceof GraphQLError ? error.path : undefined;
  if (scope.correlationId === undefined) {
    const masked = new GraphQLError('Unexpected error.', { path, extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    uncorrelated.set(masked, cause);
    return masked;
  }
  return unexpected(cause, path, scope.correlationId, scope.log);
}

/** Masked by Yoga's own masking, without the request's correlation id: what to log once it is known. */
const uncorrelated = new WeakMap<GraphQLError, unknown>();

function unexpected(cause: unknown, path: GraphQLError['path'], correlationId: string, log: Logger): GraphQLError {
  log.error({ err: cause, correlationId, path }, 'unexpected error');
  return new GraphQLError('Unexpected error.', { path, extensions: { code: 'INTERNAL_SERVER_ERROR', correlationId } });
}

/** An error Yoga masked before the request's id was at hand, logged and given that id now; any other as it is. */
function correlated(error: unknown, correlationId: string, log: Logger): unknown {
  if (!(error instanceof GraphQLError)) return error;
  const cause = uncorrelated.get(error);
  if (cause === undefined) return error;
  uncorrelated.delete(error);
  return unexpected(cause, error.path, correlationId, log);
}

/** A field's resolver threw something that is not an AppError: a bug or a failing dependency. */
function isUnexpected(error: GraphQLError): boolean {
  if (error.extensions.unexpected) return true;
  const original = error.originalError;
  if (original == null || original instanceof GraphQLError) return false;
  // A scalar's parseValue throwing on a variable is a request error (no path), not a failure of ours.
  return error.path != null || !(original instanceof TypeError);
}

function rewrap(error: GraphQLError, code: ErrorCode, scope: ErrorScope, httpDefault?: Record<string, unknown>): GraphQLError {
  const message = scope.production ? error.message.replace(/\s*Did you mean [^?]*\?/g, '') : error.message;
  const http = error.extensions.http ?? httpDefault;
  return new GraphQLError(message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    extensions: http ? { code, http } : { code },
  });
}

/** For graphql-ws, which sends extensions as they are: drops Yoga's HTTP status hints. */
export function withoutHttpHints(error: GraphQLError): GraphQLError {
  if (!('http' in error.extensions)) return error;
  const { http: _http, ...extensions } = error.extensions;
  return new GraphQLError(error.message, { nodes: error.nodes, source: error.source, positions: error.positions, path: error.path, extensions });
}

/**
 * Maps every result's errors while the GraphQL context (and so the correlation id) is at hand: results
 * of execute and subscribe over HTTP and WebSocket, each subscription event, an error ending a stream,
 * and, over HTTP, the validation errors Yoga answers without executing. Register it before Yoga's
 * own masking, which then finds nothing left to mask.
 */
export function useDocumentedErrors(options: { log: Logger; production: boolean }): Plugin<{ correlationId?: string }, { correlationId?: string }> {
  const scopeOf = (context: { correlationId?: string } | undefined): ErrorScope => ({ log: options.log, production: options.production, correlationId: context?.correlationId });
  const mapResult =
    (scope: ErrorScope) =>
    ({ result, setResult }: { result: { errors?: readonly unknown[] }; setResult: (result: any) => void }) => {
      if (result.errors?.length) setResult({ ...result, errors: result.errors.map((error) => documentedError(error, scope)) });
    };
  return {
    onExecute: ({ args }) => ({
      onExecuteDone: (payload) => handleStreamOrSingleExecutionResult(payload, mapResult(scopeOf(args.contextValue))),
    }),
    onSubscribe: ({ args }) => ({
      onSubscribeResult: (payload) => handleStreamOrSingleExecutionResult(payload, mapResult(scopeOf(args.contextValue))),
      onSubscribeError: ({ error, setError }) => setError(documentedError(error, scopeOf(args.contextValue))),
    }),
    onExecutionResult: ({ result, setResult, context }) => {
      if (result && !(Symbol.asyncIterator in result)) mapResult(scopeOf(context))({ result, setResult });
    },
    // Errors raised before a GraphQL context existed (reading the request, a plugin's request hook) were
    // masked by Yoga's maskError, which has no request: here the request's id is known again.
    onResultProcess: ({ result, setResult, serverContext }) => {
      const correlationId = serverContext.correlationId ?? randomUUID();
      const fix = <R extends { errors?: readonly unknown[] }>(one: R): R =>
        one.errors?.some((error) => uncorrelated.has(error as GraphQLError)) ? { ...one, errors: one.errors.map((error) => correlated(error, correlationId, options.log)) } : one;
      if (Array.isArray(result)) setResult(result.map(fix));
      // An event stream (SSE): the error that ends it, when its iterator threw, is one of these.
      else if (isAsyncIterable(result)) setResult(mapAsyncIterator(result, fix));
      else setResult(fix(result));
    },
  };
}
