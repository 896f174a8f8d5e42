import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { urls } from '../services.js';
import { collect, createOrderMutation, type IsolatedServices, isolatedServices, orderQuery, orderUpdatedSubscription, type StartedServer, startServer, tokenFor, wsClient } from './harness.js';
import { type ReceivedSpan, startOtlpReceiver } from './otlpReceiver.js';

const confirm = /* GraphQL */ `
  mutation Confirm($id: ID!) { confirmOrder(orderId: $id) { version events } }
`;
const items = [{ sku: 'BOOK-1', name: 'A book', quantity: 1, unitPriceCents: 1250 }];

/** A W3C traceparent of a caller's own (sampled) span, as a traced client or gateway would send. */
function callerContext() {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

/** Waits up to 15 s for `done`; the spans of a trace arrive in export batches from several parts of the service. */
async function until(done: () => boolean, describe: () => string) {
  for (const start = Date.now(); !done(); await new Promise((resolve) => setTimeout(resolve, 50)))
    if (Date.now() - start > 15_000) throw new Error(`spans still missing; received: ${describe()}`);
}

async function post(url: string, query: string, variables: Record<string, unknown>, token: string, traceparent?: string) {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...(traceparent && { traceparent }) },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data?: any; errors?: unknown[] };
}

describe('given the service exporting traces over OTLP/HTTP JSON, on the real Postgres, NATS and Redis', () => {
  let services: IsolatedServices;
  let server: StartedServer;
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    services = await isolatedServices('tracing');
    server = await startServer({
      ...services.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'orders-under-test',
      OTEL_BSP_SCHEDULE_DELAY: '50',
    });
  }, 90_000);
  afterAll(async () => {
    await server?.stop();
    await services?.cleanup();
    await receiver?.close();
  });

  describe('when a client that sent its own traceparent confirms an order another client watches', () => {
    const caller = callerContext();
    let orderId: string;
    let trace: ReceivedSpan[];

    beforeAll(async () => {
      const token = await tokenFor('tracy');
      const created = await post(server.url, createOrderMutation, { input: { items } }, token);
      orderId = created.data.createOrder.orderId;
      expect((await post(server.url, orderQuery, { id: orderId, minVersion: 1 }, token)).errors).toBeUndefined();

      const client = wsClient(server.url, token);
      try {
        const updates = collect(client, orderUpdatedSubscription, { id: orderId });
        await updates.next(1);
        const confirmed = await post(server.url, confirm, { id: orderId }, token, caller.traceparent);
        expect(confirmed.data.confirmOrder).toEqual({ version: 2, events: ['OrderConfirmed'] });
        const [, update] = await updates.next(2);
        expect(update!.data.orderUpdated).toMatchObject({ eventType: 'OrderConfirmed', version: 2 });
      } catch (error) {
        // A socket that closed arrives as a bare event: say which, with what the server logged.
        const { code, reason } = (error ?? {}) as { code?: number; reason?: string };
        throw new Error(`subscription failed (${code ?? ''} ${reason ?? String(error)}):\n${server.logs.slice(-20).join('\n')}`, { cause: error });
      } finally {
        await client.dispose();
      }
      // Spans are exported in batches: wait for the last hop's.
      const ours = () => receiver.spans.filter((s) => s.traceId === caller.traceId);
      await until(() => ours().some((s) => s.name === 'subscription message') && ours().filter((s) => s.name.startsWith('apply ')).length >= 3, () => JSON.stringify(ours().map((s) => s.name)));
      trace = receiver.spans.filter((s) => s.traceId === caller.traceId);
    }, 60_000);

    it('continues the caller trace: the HTTP server span is the child of the caller span', () => {
      const httpServer = trace.find((s) => s.kind === 2 && s.name.startsWith('POST'));
      expect(httpServer, JSON.stringify(trace.map((s) => s.name))).toBeDefined();
      expect(httpServer!.parentSpanId).toBe(caller.spanId);
      expect(httpServer!.service).toBe('orders-under-test');
    });

    it('puts the GraphQL execution, the append, the publish, every projector apply and the subscription message in that one trace', () => {
      const byName = (name: string) => trace.filter((s) => s.name === name);
      const parentOf = (span: ReceivedSpan) => trace.find((s) => s.spanId === span.parentSpanId);
      const chainTo = (span: ReceivedSpan, ancestor: ReceivedSpan) => {
        for (let at: ReceivedSpan | undefined = span; at; at = parentOf(at)) if (at === ancestor) return true;
        return false;
      };
      const httpServer = trace.find((s) => s.kind === 2 && s.name.startsWith('POST'))!;
      const execute = trace.find((s) => s.name.startsWith('mutation'));
      const [append] = byName('append');
      const [publish] = byName('publish OrderConfirmed');
      const applies = trace.filter((s) => s.name.startsWith('apply '));
      const [message] = byName('subscription message');

      expect(execute && chainTo(execute, httpServer), 'GraphQL execution under the HTTP request').toBe(true);
      expect(append && chainTo(append, execute!), 'append under the GraphQL execution').toBe(true);
      expect(append!.attributes['cqrs.order_id']).toBe(orderId);
      expect(publish && parentOf(publish)).toBe(append);
      expect(applies.map((s) => s.name).sort()).toEqual(['apply projector-orderDetails', 'apply projector-orderStats', 'apply projector-userOrders'].sort());
      for (const apply of applies) expect(parentOf(apply)).toBe(append);
      expect(message && chainTo(message, applies.find((s) => s.name.endsWith('orderDetails'))!), 'subscription message under the orderDetails apply').toBe(true);
      expect(trace.some((s) => s.attributes['db.system'] === 'postgresql' || s.attributes['db.system.name'] === 'postgresql'), 'pg spans').toBe(true);
      expect(trace.some((s) => s.attributes['db.system'] === 'redis' || s.attributes['db.system.name'] === 'redis'), 'ioredis spans').toBe(true);
    });

    it('stores the traceparent with the event and sends it in the JetStream message headers', async () => {
      const db = new pg.Client({ connectionString: services.database.url });
      await db.connect();
      try {
        const { rows } = await db.query<{ traceparent: string }>(`SELECT metadata->>'traceparent' AS traceparent FROM events WHERE stream_id = $1 AND version = 2`, [orderId]);
        expect(rows[0]!.traceparent).toMatch(new RegExp(`^00-${caller.traceId}-[0-9a-f]{16}-01$`));
      } finally {
        await db.end();
      }
      const nc = await connect({ servers: urls.nats });
      try {
        const message = await (await jetstreamManager(nc)).streams.getMessage(services.stream, { last_by_subj: `${services.subjectPrefix}.${orderId}` });
        expect(message?.header.get('traceparent')).toMatch(new RegExp(`^00-${caller.traceId}-[0-9a-f]{16}-01$`));
      } finally {
        await nc.close();
      }
    });
  });
});
