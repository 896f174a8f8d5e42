import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { TokenRules } from '../auth.js';
import type { UnauthenticatedError } from '../domain/errors.js';
import type { Caller } from '../domain/order/index.js';
import type { LoadShedder } from '../loadShedding.js';
import type { Services } from '../schema/context.js';
import type { SecurityOptions } from '../security/limits.js';
import type { RateLimiter } from '../security/rateLimit.js';
import type { TrustedDocuments } from '../security/trustedDocuments.js';

export interface AppOptions {
  host: string;
  port: number;
  /** HS256 secret, and the issuer and audience tokens must name when set. */
  tokens: TokenRules;
  services: Services;
  log: Logger;
  /** Each configured dependency by name; /readyz answers 503 naming those that fail. */
  readiness: Record<string, () => Promise<void>>;
  /** Limits from `securityOptions(config)`. */
  security: SecurityOptions;
  /** Shared across replicas when Redis-backed; an in-memory one when omitted. */
  rateLimiter?: RateLimiter;
  /** TRUSTED_DOCUMENTS: only these operations run, and GraphiQL is off. */
  trustedDocuments?: TrustedDocuments | undefined;
  /** Refuses GraphQL requests over HTTP while the process is past its CPU capacity (src/loadShedding.ts). */
  loadShedder?: LoadShedder;
}

export interface Identity {
  caller: Caller | null;
  /** Why presented credentials were refused; raised only when something needs a caller. */
  authError: UnauthenticatedError | null;
}

/** What reaches Yoga besides the request: Node's req/res over HTTP, the connection's state over WebSocket. */
export interface ServerContext {
  req?: IncomingMessage;
  res?: ServerResponse;
  correlationId?: string;
  identity?: Identity;
  connectionParams?: Record<string, unknown>;
  /** The WebSocket an operation came on. */
  socket?: WebSocket;
}
