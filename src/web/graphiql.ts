// GraphiQL at GET /graphql: served from npm (no CDN, so it works offline and behind strict egress), with
// documented example operations and an Authorization header ready to fill in.
import { createHash } from 'node:crypto';
import type { GraphiQLOptions } from 'graphql-yoga';

const defaultQuery = /* GraphQL */ `# The orders API. Sign in first: make a token with
#   npm run token -- alice          (a customer)
#   npm run token -- ops --admin    (an admin)
# and put it in the Headers tab below:
#   { "Authorization": "Bearer <token>" }
# The run button's menu picks one operation. Variables go in
# the Variables tab: { "id": "<orderId>", "version": 1 }

# Creates an order; wait for the result's version when reading.
mutation CreateOrder {
  createOrder(input: {
    items: [{ sku: "BOOK-1", name: "A book", quantity: 2, unitPriceCents: 1250 }]
  }) {
    orderId version commandId events
  }
}

# CREATED → CONFIRMED → PAID → SHIPPED → DELIVERED
# (shipOrder and deliverOrder: admins only).
mutation ConfirmOrder($id: ID!) {
  confirmOrder(orderId: $id) { version events }
}

# Read your write: waits until the read model has applied
# $version (STALE_READ past timeoutMs).
query Order($id: ID!, $version: Int) {
  order(id: $id, minVersion: $version) {
    id status totalCents currency version
    items { sku name quantity lineTotalCents }
    freshness { version eventAt projectedAt lagMs ageMs }
  }
}

# Newest first; customers see their own orders, admins everyone's.
query MyOrders {
  orders(first: 10) {
    totalCount
    edges {
      node { id userId status version freshness { lagMs ageMs } }
    }
  }
}

# The current state first ("Snapshot"), then one message
# per version, in order.
subscription OrderUpdated($id: ID!) {
  orderUpdated(id: $id) {
    eventType version previousVersion endToEndLagMs
    order { status }
  }
}

# Every order of the caller, live.
subscription MyOrdersUpdated {
  myOrdersUpdated { eventType version endToEndLagMs order { id status } }
}

# Follows a command (commandId from a mutation's result)
# through ACCEPTED, APPENDED, PUBLISHED and PROJECTED.
subscription CommandStatus($commandId: ID!) {
  commandStatus(commandId: $commandId) { stage at version }
}

# Admins: how far behind each projection is, pushed on change.
subscription ProjectionStatus {
  projectionStatus {
    name state position headPosition lagEvents lagMs deadLetters
  }
}
`;

/**
 * Subscriptions go over SSE: GraphiQL sends the Headers tab with every HTTP request, Authorization
 * included, while its graphql-ws client would connect with fixed connectionParams and no token.
 */
export const graphiqlOptions: GraphiQLOptions = {
  title: 'Orders GraphiQL',
  subscriptionsProtocol: 'SSE',
  defaultQuery,
  headers: JSON.stringify({ Authorization: 'Bearer <token from: npm run token -- alice>' }, null, 2),
  defaultEditorToolsVisibility: 'headers',
};

/**
 * GraphiQL's page with its scripts and styles inline (about 9 MB), rendered once, on first need, and
 * then served from memory: rendering it per request let 30 unauthenticated GETs take half a gigabyte.
 * Its Content-Security-Policy allows exactly its own inline scripts (by hash), its inline styles, and
 * the blob: workers its editor starts; it talks to this origin only and may not be framed.
 */
export function graphiqlPage(options: GraphiQLOptions = graphiqlOptions): () => Promise<{ body: Buffer; headers: Record<string, string> }> {
  let page: Promise<{ body: Buffer; headers: Record<string, string> }> | null = null;
  return () =>
    (page ??= (async () => {
      const { renderGraphiQL: render } = await import('@graphql-yoga/render-graphiql');
      const html = render(options);
      const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((match) => `'sha256-${createHash('sha256').update(match[1]!).digest('base64')}'`);
      const policy = [
        "default-src 'none'",
        `script-src ${scripts.join(' ')}`,
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
      ].join('; ');
      const body = Buffer.from(html);
      return {
        body,
        headers: {
          'content-type': 'text/html; charset=utf-8',
          'content-length': String(body.length),
          'content-security-policy': policy,
          'x-frame-options': 'DENY',
          'x-content-type-options': 'nosniff',
          'referrer-policy': 'no-referrer',
          'cache-control': 'no-cache',
        },
      };
    })());
}
