// The order board: a page at `/` and its files under `/web/`, served by the query role. Plain files, no
// build step: what is in this folder is what the browser runs (operations.js is written by `npm run
// codegen`; tsc checks board.js through its JSDoc, with src/web/tsconfig.json).
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
// graphql-ws ships its browser client as an ES module whose only import is a sibling chunk (with a
// hashed name): both are served as they are, so the page speaks the same protocol code as the server.
const graphqlWsDist = dirname(createRequire(import.meta.url).resolve('graphql-ws/client'));

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/**
 * The page loads only its own files and talks only to this origin. CSP 3's 'self' covers ws:/wss: on
 * the same host, so graphql-ws needs no wider connect-src. No inline script or style anywhere.
 */
export const boardContentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const headers = {
  'content-security-policy': boardContentSecurityPolicy,
  'x-content-type-options': 'nosniff',
  // A `/?token=` link (the old form of `/#token=`) must never travel in a Referer.
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cache-control': 'no-cache',
};

/** The file behind a board path, or null: a fixed list, so no request path ever becomes a file path. */
function fileFor(path: string): string | null {
  if (path === '/') return join(here, 'index.html');
  if (path === '/web/board.js' || path === '/web/operations.js' || path === '/web/board.css') return join(here, path.slice('/web/'.length));
  const vendored = /^\/web\/vendor\/graphql-ws\/((?:client|common-[A-Za-z0-9_-]+)\.js)$/.exec(path);
  return vendored ? join(graphqlWsDist, vendored[1]!) : null;
}

export const isBoardPath = (path: string | undefined): path is string => path === '/' || (path?.startsWith('/web/') ?? false);

/** Answers a request for `/` or `/web/*`: GET and HEAD, 404 for anything not on the list. */
export async function serveBoard(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
    return;
  }
  const file = fileFor(path);
  const body = file ? await readFile(file).catch(() => null) : null;
  if (!file || !body) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' }).end('not found\n');
    return;
  }
  res.writeHead(200, { ...headers, 'content-type': contentTypes[extname(file)]!, 'content-length': body.length });
  res.end(req.method === 'HEAD' ? undefined : body);
}
