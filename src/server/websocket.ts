import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { type DocumentNode, getOperationAST, GraphQLError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { UnauthenticatedError } from '../domain/errors.js';
import { documentedError, withoutHttpHints } from '../schema/errors.js';
import { admit, RateLimitedError, type RateLimiter } from '../security/rateLimit.js';
import { closeCodes, ConnectionCounter } from '../security/websocket.js';
import type { AppOptions, Identity } from './context.js';
import { type Identities, validCorrelationId } from './identity.js';
import type { Yoga } from './yoga.js';

/**
 * graphql-ws on Yoga's endpoint: each operation goes through `yoga.getEnveloped`, so it meets the same
 * plugins and context as over HTTP. Returns what stops it.
 */
export function serveWebSocket(server: Server, yoga: Yoga, options: AppOptions, identities: Identities, limiter: RateLimiter): { stop(): Promise<void> } {
  const { log, security } = options;
  const { production } = security;
  const wsServer = new WebSocketServer({
    server,
    path: yoga.graphqlEndpoint,
    maxPayload: security.maxBodyBytes,
    // Browsers do not apply CORS to WebSockets: refuse the upgrade from a page of another origin here.
    verifyClient: ({ origin, req }, done) => done(originAllowed(origin, req.headers.host, security.corsOrigins), 403, 'Origin not allowed'),
  });
  const connections = new ConnectionCounter(security.ws.maxConnectionsPerCaller);
  const cleanup = useServer<Record<string, unknown> | undefined, { identity: Identity; callerKey: string }>(
    {
      isProd: true, // never put an error's message in a close reason
      connectionInitWaitTimeout: security.ws.initTimeoutMs,
      // A presented token must be valid (else 4403); no token is allowed, but subscribing needs a caller.
      onConnect: async (ctx) => {
        const identity = await identities.identify(ctx.connectionParams?.authorization);
        if (identity.authError) return false;
        const key = identities.callerKey(identity, ctx.extra.request.socket.remoteAddress);
        if (!connections.tryOpen(key)) {
          ctx.extra.socket.close(closeCodes.tooManyConnections, 'Too many connections for this caller');
          return false;
        }
        Object.assign(ctx.extra, { identity, callerKey: key });
        // What the upgrade request said is now in the identity and the caller key: let go of the request
        // (its headers, about 1.3 KiB) rather than keep it for as long as the connection is open.
        (ctx.extra as { request?: unknown }).request = undefined;
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
          const { identity, callerKey } = ctx.extra;
          const max = security.ws.maxSubscriptionsPerConnection;
          if (Object.keys(ctx.subscriptions).length > max)
            return refuse(new RateLimitedError(`at most ${max} operations at once on one connection`, { limit: 'WS_MAX_SUBSCRIPTIONS' }));
          const refused = await admit(limiter, callerKey!); // set by onConnect, which every operation follows
          if (refused) return refuse(refused);

          const enveloped = yoga.getEnveloped({
            ...ctx,
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
    async stop() {
      await cleanup.dispose();
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
    },
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
