import { randomUUID } from 'node:crypto';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { GraphQLError } from 'graphql';
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Context } from '../schema/context.js';
import { documentedError, toGraphQLError, useDocumentedErrors } from '../schema/errors.js';
import { releaseAuthCache } from '../schema/builder.js';
import { schema } from '../schema/index.js';
import { armorPlugin } from '../security/armor.js';
import { bodyLimitPlugin } from '../security/bodyLimit.js';
import { inputGuardPlugin } from '../security/inputs.js';
import { admit, type RateLimiter } from '../security/rateLimit.js';
import { trustedDocumentsPlugins } from '../security/trustedDocuments.js';
import { traced } from '../telemetry/hooks.js';
import { subscriptionExecution } from './subscriptionExecution.js';
import type { AppOptions, ServerContext } from './context.js';
import type { Identities } from './identity.js';

export type Yoga = YogaServerInstance<ServerContext, Context>;

/** Headers any of which lets a GET (or a form-encoded POST) through CSRF prevention: a browser sends none cross-site without a preflight. */
export const csrfHeaders = ['x-graphql-yoga-csrf', 'authorization'];

/** Yoga with every plugin HTTP, SSE and WebSocket share: errors, CSRF, trusted documents, limits, rate limits, tracing. */
export function createYogaApp(options: AppOptions, identities: Identities, limiter: RateLimiter): Yoga {
  const { log, security } = options;
  const { production } = security;
  return createYoga<ServerContext, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    // GraphiQL is served by the router, from memory, rate-limited and with its own CSP.
    graphiql: false,
    // Enforced by bodyLimitPlugin (the same refusals, without a stream per request that has a Content-Length).
    maxRequestBodySize: false,
    batching: { limit: security.maxBatchOperations },
    multipart: false,
    cors: corsOptions(security.corsOrigins),
    context: async ({ request, identity, correlationId, res, socket }) => {
      // Over HTTP the rate limit's onParams below has already identified the caller, on this very object.
      const { caller, authError } = identity ?? (await identities.identify(request.headers.get('authorization')));
      // A stalled subscriber is dropped with its connection: the socket (WebSocket) or the response (SSE).
      const drop = socket ? () => socket.terminate() : res ? () => void res.destroy() : undefined;
      return { caller, authError, correlationId: correlationId ?? randomUUID(), services: options.services, drop };
    },
    plugins: [
      // First, so its result hooks run before Yoga's masking, with the context's correlation id at hand.
      useDocumentedErrors({ log, production }),
      useCSRFPrevention({ requestHeaders: csrfHeaders }),
      ...(options.trustedDocuments ? trustedDocumentsPlugins(options.trustedDocuments) : []),
      armorPlugin(security.query, production),
      inputGuardPlugin(),
      bodyLimitPlugin(security.maxBodyBytes),
      rateLimitPlugin(identities, limiter),
      bodylessPlugin,
      subscriptionExecution(),
      traced.yogaPlugin(),
      releaseAuthCache,
    ],
    // Whatever the plugin above did not see (errors raised while reading the request) ends here; the
    // plugin's result hook then gives an unexpected one the request's correlation id, and logs it.
    maskedErrors: { maskError: (error) => documentedError(error, { log, production }) },
    logging: {
      debug: (...args) => log.debug({ args }, 'yoga'),
      info: (...args) => log.info({ args }, 'yoga'),
      warn: (...args) => log.warn({ args }, 'yoga'),
      // Yoga logs every error it masks; documentedError already logged the unexpected ones with their
      // correlation id, and the rest are clients' mistakes.
      error: (...args) => log.debug({ args }, 'yoga masked an error'),
    },
  });
}

/** Per operation, before it is parsed: a batch counts each of its operations. */
function rateLimitPlugin(identities: Identities, limiter: RateLimiter): Plugin<{}, ServerContext> {
  const batches = new WeakSet<Request>();
  return {
    onRequestParse: ({ request }) => ({
      onRequestParseDone: ({ requestParserResult }) => {
        if (!Array.isArray(requestParserResult)) return;
        if (requestParserResult.length === 0) throw new GraphQLError('a batch needs at least one operation', { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });
        batches.add(request);
      },
    }),
    async onParams({ request, context, setResult }) {
      // Kept on the operation's context (the object Yoga builds the GraphQL context from), for the context
      // factory above: not in a WeakMap keyed by the request, whose values Node 20 frees only in a full
      // collection (docs/operations.md, "Garbage collection").
      const identity = (context.identity ??= await identities.identify(request.headers.get('authorization')));
      const refused = await admit(limiter, identities.callerKey(identity, context.req?.socket.remoteAddress));
      if (!refused) return;
      const error = toGraphQLError(refused)!;
      // 429 only when the response holds nothing else: in a batch, the other operations may have run.
      const http = batches.has(request) ? undefined : { status: 429, headers: { 'Retry-After': String(refused.details.retryAfterSeconds) } };
      setResult({ errors: [new GraphQLError(error.message, { extensions: { ...error.extensions, ...(http && { http }) } })] });
    },
  };
}

// Yoga answers a wrong method, Accept or Content-Type with a bare status; give it a body with a code.
const bodylessRefusals: Record<number, string> = {
  404: 'no such endpoint: GraphQL is served at /graphql',
  405: 'method not allowed: use GET or POST',
  406: 'no acceptable media type: accept application/graphql-response+json, application/json or text/event-stream',
  415: 'unsupported Content-Type: send application/json',
};
const bodylessPlugin: Plugin = {
  onResponse({ response, setResponse, fetchAPI }) {
    if (response.status < 400 || response.body !== null) return;
    const headers = new fetchAPI.Headers(response.headers);
    headers.set('content-type', 'application/json; charset=utf-8');
    const message = bodylessRefusals[response.status] ?? 'request refused';
    setResponse(new fetchAPI.Response(JSON.stringify({ errors: [{ message, extensions: { code: 'BAD_USER_INPUT' } }] }), { status: response.status, headers }));
  },
};

/** CORS_ORIGINS unset: no CORS headers, so browsers allow same-origin pages only. */
function corsOptions(origins: string[]) {
  if (origins.length === 0) return false as const;
  return (request: Request) => {
    const origin = request.headers.get('origin');
    if (!origin || !(origins.includes('*') || origins.includes(origin))) return false as const;
    return {
      origin: [origin],
      methods: ['GET', 'POST'],
      allowedHeaders: ['authorization', 'content-type', 'accept', 'x-correlation-id', ...csrfHeaders],
      exposedHeaders: ['x-correlation-id', 'retry-after'],
      credentials: false,
      maxAge: 600,
    };
  };
}
