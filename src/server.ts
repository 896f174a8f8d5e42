import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { getOperationAST, GraphQLError, type DocumentNode } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Logger } from 'pino';
import { createAuthenticator, type TokenRules } from './auth.js';
import { drainable } from './httpDrain.js';
import type { LoadShedder } from './loadShedding.js';
import { UnauthenticatedError } from './domain/errors.js';
import type { Caller } from './domain/order/index.js';
import { callerKey as keyOfCaller } from './keys.js';
import { registry } from './metrics.js';
import type { Context, Services } from './schema/context.js';
import { bodyLimitPlugin } from './security/bodyLimit.js';
import { documentedError, requestCorrelation, toGraphQLError, useDocumentedErrors, withoutHttpHints } from './schema/errors.js';
import { schema } from './schema/index.js';
import { armorPlugin } from './security/armor.js';
import { inputGuardPlugin } from './security/inputs.js';
import type { SecurityOptions } from './security/limits.js';
import { admit, MemoryRateLimiter, RateLimitedError, type RateLimiter } from './security/rateLimit.js';
import { type TrustedDocuments, trustedDocumentsPlugins } from './security/trustedDocuments.js';
import { closeCodes, ConnectionCounter } from './security/websocket.js';
import { traced } from './telemetry/hooks.js';
import { graphiqlPage } from './web/graphiql.js';
import { isBoardPath, serveBoard } from './web/static.js';

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

interface Identity {
  caller: Caller | null;
  /** Why presented credentials were refused; raised only when something needs a caller. */
  authError: UnauthenticatedError | null;
}

/** What reaches Yoga besides the request: Node's req/res over HTTP, the connection's state over WebSocket. */
interface ServerContext {
  req?: IncomingMessage;
  res?: ServerResponse;
  correlationId?: string;
  identity?: Identity;
  connectionParams?: Record<string, unknown>;
  /** The WebSocket an operation came on. */
  socket?: WebSocket;
}

const correlationIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;
const validCorrelationId = (value: unknown) => (typeof value === 'string' && correlationIdPattern.test(value) ? value : null);

/** Headers any of which lets a GET (or a form-encoded POST) through CSRF prevention: a browser sends none cross-site without a preflight. */
export const csrfHeaders = ['x-graphql-yoga-csrf', 'authorization'];

/** Yoga over HTTP (and SSE) plus graphql-ws on the same path, sharing plugins, limits and context. */
export function buildApp(options: AppOptions) {
  const { log, security } = options;
  const { production } = security;
  const limiter = options.rateLimiter ?? new MemoryRateLimiter(security.rateLimitPerMinute);

  const authenticate = createAuthenticator(options.tokens);
  const identify = async (authorization: unknown): Promise<Identity> => {
    if (authorization != null && typeof authorization !== 'string')
      return { caller: null, authError: new UnauthenticatedError('authorization must be "Bearer <token>"') };
    try {
      return { caller: await authenticate(authorization), authError: null };
    } catch (error) {
      if (!(error instanceof UnauthenticatedError)) throw error;
      return { caller: null, authError: error };
    }
  };
  // The rate limiter and the context both need the caller: verify each HTTP request's token once.
  const identities = new WeakMap<Request, Promise<Identity>>();
  const identifyRequest = (request: Request): Promise<Identity> => {
    let identity = identities.get(request);
    if (!identity) identities.set(request, (identity = identify(request.headers.get('authorization'))));
    return identity;
  };
  /** Whom the rate limit and the connection cap count: the user, or the address of an anonymous caller. */
  const callerKey = (identity: Identity, address: string | undefined) => keyOfCaller(identity.caller?.userId, address);

  const batches = new WeakSet<Request>();
  // Per operation, before it is parsed: a batch counts each of its operations.
  const rateLimitPlugin: Plugin<{}, ServerContext> = {
    onRequestParse: ({ request }) => ({
      onRequestParseDone: ({ requestParserResult }) => {
        if (!Array.isArray(requestParserResult)) return;
        if (requestParserResult.length === 0) throw new GraphQLError('a batch needs at least one operation', { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });
        batches.add(request);
      },
    }),
    async onParams({ request, context, setResult }) {
      const refused = await admit(limiter, callerKey(await identifyRequest(request), context.req?.socket.remoteAddress));
      if (!refused) return;
      const error = toGraphQLError(refused)!;
      // 429 only when the response holds nothing else: in a batch, the other operations may have run.
      const http = batches.has(request) ? undefined : { status: 429, headers: { 'Retry-After': String(refused.details.retryAfterSeconds) } };
      setResult({ errors: [new GraphQLError(error.message, { extensions: { ...error.extensions, ...(http && { http }) } })] });
    },
  };

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

  const yoga = createYoga<ServerContext, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    // GraphiQL is served by `handle` below, from memory, rate-limited and with its own CSP.
    graphiql: false,
    // Enforced by bodyLimitPlugin (the same refusals, without a stream per request that has a Content-Length).
    maxRequestBodySize: false,
    batching: { limit: security.maxBatchOperations },
    multipart: false,
    cors: corsOptions(security.corsOrigins),
    context: async ({ request, identity, correlationId, res, socket }) => {
      const { caller, authError } = identity ?? (await identifyRequest(request));
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
      rateLimitPlugin,
      bodylessPlugin,
      traced.yogaPlugin(),
    ],
    // Whatever the plugin above did not see (errors raised while reading the request) ends here.
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

  const readiness = async (): Promise<{ ok: boolean; failing: Record<string, string> }> => {
    const failing: Record<string, string> = {};
    await Promise.all(
      Object.entries(options.readiness).map(async ([name, ping]) => {
        try {
          await Promise.race([ping(), new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), 2000).unref())]);
        } catch (error) {
          failing[name] = error instanceof Error ? error.message : String(error);
        }
      }),
    );
    return { ok: Object.keys(failing).length === 0, failing };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    if (path === '/readyz') {
      const { ok, failing } = await readiness();
      return void res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(ok ? { status: 'ready' } : { status: 'unavailable', failing }));
    }
    if (path === '/metrics') return void res.writeHead(200, { 'content-type': registry.contentType }).end(await registry.metrics());
    // The order board (src/web) lives where the reads are.
    if (options.services.reads && isBoardPath(path)) return serveBoard(req, res, path);
    // With trusted documents, GraphiQL (which sends any document) is off.
    if (!options.trustedDocuments && path === yoga.graphqlEndpoint && req.method === 'GET' && req.headers.accept?.includes('text/html')) return serveGraphiQL(req, res);
    // Event streams (SSE) are not shed: they are long-lived reads, not work that piles up.
    if (req.method === 'POST' && !req.headers.accept?.includes('text/event-stream') && options.loadShedder?.shouldShed()) return options.loadShedder.refuse(res);
    const correlationId = validCorrelationId(req.headers['x-correlation-id']) ?? randomUUID();
    res.setHeader('x-correlation-id', correlationId);
    return requestCorrelation.run(correlationId, () => yoga(req, res, { correlationId }));
  };

  const graphiql = graphiqlPage();
  /** GraphiQL in a browser: rate-limited like any operation, then the page rendered once. */
  const serveGraphiQL = async (req: IncomingMessage, res: ServerResponse) => {
    const identity = await identify(req.headers.authorization);
    const refused = await admit(limiter, callerKey(identity, req.socket.remoteAddress));
    if (refused) {
      const body = JSON.stringify({ errors: [{ message: refused.message, extensions: { code: refused.code, ...refused.details } }] });
      return void res.writeHead(429, { 'content-type': 'application/json; charset=utf-8', 'retry-after': String(refused.details.retryAfterSeconds) }).end(body);
    }
    const page = await graphiql();
    res.writeHead(200, page.headers).end(page.body);
  };

  const drain = drainable((req, res) => void handle(req, res));
  const server = createServer(drain.handler);
  // A request Node's HTTP parser refuses (a bad Content-Length, oversized headers) never reaches Yoga:
  // answer it here with a JSON error and a code too, instead of Node's bare 400.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || error.code === 'ECONNRESET') return void socket.destroy();
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const body = JSON.stringify({ errors: [{ message: status === 431 ? 'request headers too large' : 'malformed HTTP request', extensions: { code: 'BAD_USER_INPUT' } }] });
    socket.end(`HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
  const wsServer = new WebSocketServer({
    server,
    path: yoga.graphqlEndpoint,
    maxPayload: security.maxBodyBytes,
    // Browsers do not apply CORS to WebSockets: refuse the upgrade from a page of another origin here.
    verifyClient: ({ origin, req }, done) => done(originAllowed(origin, req.headers.host, security.corsOrigins), 403, 'Origin not allowed'),
  });
  const connections = new ConnectionCounter(security.ws.maxConnectionsPerCaller);
  const wsCleanup = useServer<Record<string, unknown> | undefined, { identity: Identity; callerKey: string }>(
    {
      isProd: true, // never put an error's message in a close reason
      connectionInitWaitTimeout: security.ws.initTimeoutMs,
      // A presented token must be valid (else 4403); no token is allowed, but subscribing needs a caller.
      onConnect: async (ctx) => {
        const identity = await identify(ctx.connectionParams?.authorization);
        if (identity.authError) return false;
        const key = callerKey(identity, ctx.extra.request.socket.remoteAddress);
        if (!connections.tryOpen(key)) {
          ctx.extra.socket.close(closeCodes.tooManyConnections, 'Too many connections for this caller');
          return false;
        }
        Object.assign(ctx.extra, { identity, callerKey: key });
        return true;
      },
      onClose: (ctx) => {
        if (ctx.extra.callerKey) connections.release(ctx.extra.callerKey);
      },
      // Results carry Yoga's HTTP status hints, which mean nothing on a socket.
      onNext: (_ctx, _id, _payload, _args, result) => (result.errors?.length ? { ...result, errors: result.errors.map(withoutHttpHints) } : undefined),
      execute: (args: any) => args.rootValue.execute(args),
      subscribe: (args: any) => args.rootValue.subscribe(args),
      // Never throws: graphql-ws would close the whole connection with 4500. Every refusal is an error
      // message for this operation with a documented code.
      onSubscribe: async (ctx, _id, params) => {
        const correlationId = validCorrelationId(ctx.connectionParams?.correlationId) ?? randomUUID();
        const refuse = (...errors: unknown[]) => errors.map((error) => withoutHttpHints(documentedError(error, { log, production, correlationId })));
        try {
          const { identity, callerKey: key } = ctx.extra;
          const max = security.ws.maxSubscriptionsPerConnection;
          if (Object.keys(ctx.subscriptions).length > max)
            return refuse(new RateLimitedError(`at most ${max} operations at once on one connection`, { limit: 'WS_MAX_SUBSCRIPTIONS' }));
          const refused = await admit(limiter, key!);
          if (refused) return refuse(refused);

          const enveloped = yoga.getEnveloped({
            ...ctx,
            req: ctx.extra.request,
            socket: ctx.extra.socket,
            params,
            connectionParams: ctx.connectionParams ?? {},
            identity,
            correlationId,
          });
          let document: DocumentNode;
          try {
            document = enveloped.parse(params.query);
          } catch (error) {
            return refuse(error);
          }
          const errors = enveloped.validate(enveloped.schema, document);
          if (errors.length) return refuse(...errors);
          const operation = getOperationAST(document, params.operationName);
          if (!operation) return refuse(new GraphQLError('no operation to run: name one with operationName'));
          if (operation.operation === 'subscription' && !identity?.caller)
            return refuse(new UnauthenticatedError('sign in: send connectionParams.authorization = "Bearer <token>"'));
          return {
            schema: enveloped.schema,
            operationName: params.operationName,
            document,
            variableValues: params.variables,
            contextValue: await enveloped.contextFactory(),
            rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe },
          };
        } catch (error) {
          return refuse(error);
        }
      },
    },
    wsServer,
  );

  return {
    yoga,
    server,
    async start(): Promise<string> {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port, options.host, () => resolve());
      });
      const { address, port } = server.address() as AddressInfo;
      return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
    },
    async stop(): Promise<void> {
      await wsCleanup.dispose();
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
      await drain.stop(server, 10_000);
    },
  };
}

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

function originAllowed(origin: string | undefined, host: string | undefined, allowed: string[]): boolean {
  if (!origin) return true; // not a browser
  if (allowed.includes('*') || allowed.includes(origin)) return true;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}
