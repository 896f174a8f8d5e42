import type { IncomingMessage, Server, ServerResponse } from 'node:http';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Graceful stop for an HTTP server whose clients keep connections alive: once stopping, requests on
 * existing connections get 503 with `Connection: close` (stop taking work), requests already running
 * finish, then every remaining connection is closed. Long-lived event streams (SSE) are not work to
 * wait for: they are closed at the end and their clients reconnect elsewhere.
 */
export function drainable(handler: Handler) {
  let stopping = false;
  let inFlight = 0;
  let onIdle: (() => void) | null = null;

  const wrapped: Handler = (req, res) => {
    if (stopping) {
      res.writeHead(503, { connection: 'close', 'retry-after': '1', 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ message: 'the server is shutting down; retry on another instance', extensions: { code: 'SHUTTING_DOWN' } }] }));
      return;
    }
    if (!req.headers.accept?.includes('text/event-stream')) {
      inFlight++;
      res.once('close', () => {
        if (--inFlight === 0) onIdle?.();
      });
    }
    handler(req, res);
  };

  return {
    handler: wrapped,
    get inFlight() {
      return inFlight;
    },
    /** Stops accepting, waits up to `graceMs` for running requests, then closes all connections. */
    async stop(server: Server, graceMs: number): Promise<void> {
      stopping = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, graceMs);
          onIdle = () => (clearTimeout(timer), resolve());
        });
      }
      server.closeAllConnections();
      await closed;
    },
  };
}
