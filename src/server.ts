import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGraphQLError, createYoga } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Logger } from 'pino';
import { authenticate } from './auth.js';
import { drainable } from './httpDrain.js';
import { UnauthenticatedError } from './domain/errors.js';
import type { Context, Services } from './schema/context.js';
import { toGraphQLError } from './schema/errors.js';
import { schema } from './schema/index.js';

export interface AppOptions {
  host: string;
  port: number;
  jwtSecret: string;
  services: Services;
  log: Logger;
  /** Each configured dependency by name; /readyz answers 503 naming those that fail. */
  readiness: Record<string, () => Promise<void>>;
}

const correlationIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

/** Yoga over HTTP (and SSE) plus graphql-ws on the same path, sharing plugins and context. */
export function buildApp(options: AppOptions) {
  const { log } = options;

  const createContext = async (authorization: unknown, correlationHeader: string | null | undefined): Promise<Context> => {
    const correlationId = correlationHeader && correlationIdPattern.test(correlationHeader) ? correlationHeader : randomUUID();
    try {
      const caller = await authenticate(typeof authorization === 'string' ? authorization : null, options.jwtSecret);
      return { caller, authError: null, correlationId, services: options.services };
    } catch (error) {
      if (!(error instanceof UnauthenticatedError)) throw error;
      return { caller: null, authError: error, correlationId, services: options.services };
    }
  };

  const yoga = createYoga<{ connectionParams?: Record<string, unknown> }, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    graphiql: { subscriptionsProtocol: 'WS', title: 'Orders' },
    context: ({ request, connectionParams }) =>
      connectionParams
        ? createContext(connectionParams.authorization, typeof connectionParams.correlationId === 'string' ? connectionParams.correlationId : null)
        : createContext(request.headers.get('authorization'), request.headers.get('x-correlation-id')),
    maskedErrors: {
      maskError(error, message) {
        const known = toGraphQLError(error);
        if (known) return known;
        log.error({ err: error }, 'unexpected error');
        return createGraphQLError(message, { extensions: { code: 'INTERNAL_SERVER_ERROR' } });
      },
    },
    logging: {
      debug: (...args) => log.debug({ args }, 'yoga'),
      info: (...args) => log.info({ args }, 'yoga'),
      warn: (...args) => log.warn({ args }, 'yoga'),
      error: (...args) => log.error({ args }, 'yoga'),
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
    return yoga(req, res);
  };

  const drain = drainable((req, res) => void handle(req, res));
  const server = createServer(drain.handler);
  const wsServer = new WebSocketServer({ server, path: yoga.graphqlEndpoint });
  const wsCleanup = useServer(
    {
      connectionInitWaitTimeout: 10_000,
      // Refuse the connection at init when a token is presented and invalid.
      onConnect: async ({ connectionParams }) => {
        const auth = connectionParams?.authorization;
        if (auth == null) return true;
        try {
          await authenticate(typeof auth === 'string' ? auth : '', options.jwtSecret);
          return true;
        } catch {
          return false;
        }
      },
      execute: (args: any) => args.rootValue.execute(args),
      subscribe: (args: any) => args.rootValue.subscribe(args),
      onSubscribe: async (ctx, _id, params) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
          connectionParams: ctx.connectionParams ?? {},
        });
        const args = {
          schema,
          operationName: params.operationName,
          document: parse(params.query),
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
        const errors = validate(args.schema, args.document);
        return errors.length ? errors : args;
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
