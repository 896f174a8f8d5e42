import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { drainable } from './httpDrain.js';
import { MemoryRateLimiter } from './security/rateLimit.js';
import type { AppOptions } from './server/context.js';
import { createIdentities } from './server/identity.js';
import { createRouter, refuseMalformedRequest } from './server/router.js';
import { serveWebSocket } from './server/websocket.js';
import { createYogaApp } from './server/yoga.js';

export type { AppOptions } from './server/context.js';
export { csrfHeaders } from './server/yoga.js';

/**
 * Yoga over HTTP (and SSE) plus graphql-ws on the same path, sharing plugins, limits and context: the
 * Yoga setup (server/yoga.ts), the HTTP router in front of it (server/router.ts) and the WebSocket
 * handler (server/websocket.ts), on one Node server that drains on stop.
 */
export function buildApp(options: AppOptions) {
  const limiter = options.rateLimiter ?? new MemoryRateLimiter(options.security.rateLimitPerMinute);
  const identities = createIdentities(options.tokens);
  const yoga = createYogaApp(options, identities, limiter);
  const route = createRouter(options, yoga, identities, limiter);
  const drain = drainable((req, res) => void route(req, res));
  const server = createServer(drain.handler);
  server.on('clientError', refuseMalformedRequest);
  const webSocket = serveWebSocket(server, yoga, options, identities, limiter);

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
      await webSocket.stop();
      await drain.stop(server, 10_000);
    },
  };
}
