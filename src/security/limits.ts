import type { Config } from '../config.js';

/** What one operation may ask (graphql-armor). */
export interface QueryLimits {
  maxDepth: number;
  maxAliases: number;
  maxTokens: number;
  maxDirectives: number;
  maxCost: number;
}

/** Every limit the API enforces, read once from the configuration (docs/security.md lists them). */
export interface SecurityOptions {
  production: boolean;
  /** A request body past this is answered 413 before it is parsed; also the largest WebSocket message. */
  maxBodyBytes: number;
  /** Operations in one batched (JSON array) request. */
  maxBatchOperations: number;
  query: QueryLimits;
  /** Operations per caller per minute, shared by every replica through Redis. */
  rateLimitPerMinute: number;
  /** Origins a browser may call from; empty means same-origin only, `*` any. */
  corsOrigins: string[];
  ws: {
    initTimeoutMs: number;
    maxSubscriptionsPerConnection: number;
    maxConnectionsPerCaller: number;
  };
}

export function securityOptions(config: Config): SecurityOptions {
  return {
    production: config.NODE_ENV === 'production',
    maxBodyBytes: config.MAX_BODY_BYTES,
    maxBatchOperations: config.MAX_BATCH_OPERATIONS,
    query: {
      maxDepth: config.QUERY_MAX_DEPTH,
      maxAliases: config.QUERY_MAX_ALIASES,
      maxTokens: config.QUERY_MAX_TOKENS,
      maxDirectives: config.QUERY_MAX_DIRECTIVES,
      maxCost: config.QUERY_MAX_COST,
    },
    rateLimitPerMinute: config.RATE_LIMIT_PER_MINUTE,
    corsOrigins: config.CORS_ORIGINS,
    ws: {
      initTimeoutMs: config.WS_INIT_TIMEOUT_MS,
      maxSubscriptionsPerConnection: config.WS_MAX_SUBSCRIPTIONS,
      maxConnectionsPerCaller: config.WS_MAX_CONNECTIONS_PER_USER,
    },
  };
}
