import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { registry } from '../metrics.js';
import { admit, type RateLimiter } from '../security/rateLimit.js';
import { graphiqlPage } from '../web/graphiql.js';
import { isBoardPath, serveBoard } from '../web/static.js';
import type { AppOptions } from './context.js';
import { type Identities, validCorrelationId } from './identity.js';
import type { Yoga } from './yoga.js';

/** Every HTTP path: probes and metrics, the board, GraphiQL, then GraphQL through Yoga. */
export function createRouter(options: AppOptions, yoga: Yoga, identities: Identities, limiter: RateLimiter) {
  const readiness = readinessCheck(options.readiness);
  const graphiql = graphiqlPage();

  /** GraphiQL in a browser: rate-limited like any operation, then the page rendered once. */
  const serveGraphiQL = async (req: IncomingMessage, res: ServerResponse) => {
    const identity = await identities.identify(req.headers.authorization);
    const refused = await admit(limiter, identities.callerKey(identity, req.socket.remoteAddress));
    if (refused) {
      const body = JSON.stringify({ errors: [{ message: refused.message, extensions: { code: refused.code, ...refused.details } }] });
      return void res.writeHead(429, { 'content-type': 'application/json; charset=utf-8', 'retry-after': String(refused.details.retryAfterSeconds) }).end(body);
    }
    const page = await graphiql();
    res.writeHead(200, page.headers).end(page.body);
  };

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
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
    if (req.method === 'POST' && !req.headers.accept?.includes('text/event-stream') && options.loadShedder?.guard(res)) return;
    const correlationId = validCorrelationId(req.headers['x-correlation-id']) ?? randomUUID();
    res.setHeader('x-correlation-id', correlationId);
    return yoga(req, res, { correlationId });
  };
}

/**
 * Asks every configured dependency at once, each given `timeoutMs`. The timer of a ping that answered is
 * cleared: a probe every second used to leave a 2 s timer per dependency behind it.
 */
export function readinessCheck(dependencies: Record<string, () => Promise<void>>, timeoutMs = 2000) {
  return async (): Promise<{ ok: boolean; failing: Record<string, string> }> => {
    const failing: Record<string, string> = {};
    await Promise.all(
      Object.entries(dependencies).map(async ([name, ping]) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([ping(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('timed out')), timeoutMs).unref()))]);
        } catch (error) {
          failing[name] = error instanceof Error ? error.message : String(error);
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    return { ok: Object.keys(failing).length === 0, failing };
  };
}

/**
 * A request Node's HTTP parser refuses (a bad Content-Length, oversized headers) never reaches Yoga:
 * answer it with a JSON error and a code too, instead of Node's bare 400.
 */
export function refuseMalformedRequest(error: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable || error.code === 'ECONNRESET') return void socket.destroy();
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
  const body = JSON.stringify({ errors: [{ message: status === 431 ? 'request headers too large' : 'malformed HTTP request', extensions: { code: 'BAD_USER_INPUT' } }] });
  socket.end(`HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
