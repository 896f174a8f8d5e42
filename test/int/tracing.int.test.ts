// Tracing of the asynchronous half of a command, spans caught by an in-memory exporter: on the real
// Postgres, JetStream and Redis, and embedded (PGlite, the in-process bus, the memory store and feed).
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Span, trace } from '@opentelemetry/api';
import { tracing } from '@opentelemetry/sdk-node';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentSchemaVersion, type OrderEvent } from '../../src/domain/order/index.js';
import { InProcessBus } from '../../src/infrastructure/embedded/inProcessBus.js';
import { MemoryChangeFeed } from '../../src/infrastructure/embedded/memoryChangeFeed.js';
import { MemoryDeadLetters } from '../../src/infrastructure/embedded/memoryDeadLetters.js';
import { MemoryReadStore } from '../../src/infrastructure/embedded/memoryReadStore.js';
import { startRelay } from '../../src/infrastructure/outboxRelay.js';
import { openEventStore } from '../../src/infrastructure/postgres/open.js';
import type { ChangeFeed, EventBus, EventStore, ReadStore } from '../../src/ports.js';
import { projections } from '../../src/readModels/index.js';
import { startProjector } from '../../src/projectors/runtime.js';
import { orderUpdates } from '../../src/queries/orderUpdates.js';
import { installTracing, traced } from '../../src/telemetry/hooks.js';
import { pipelineTracing } from '../../src/telemetry/pipeline.js';
import { openPipeline, quietLog } from './fixtures/pipeline.js';

const exporter = new tracing.InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new tracing.SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('tracing-test');

beforeAll(() => {
  // The context manager and the W3C propagator, as the SDK registers them.
  provider.register();
  installTracing(pipelineTracing(tracer));
});
afterAll(async () => {
  installTracing(null);
  await provider.shutdown();
  trace.disable();
});

interface Parts {
  store: EventStore;
  bus: EventBus;
  readStore: ReadStore;
  feed: ChangeFeed;
  /** The traceparent the bus carried in the message's headers, where it has headers. */
  headerOf?: (orderId: string) => Promise<string | undefined>;
  close(): Promise<void>;
}

const event = (e: OrderEvent, userId: string) => {
  const id = randomUUID();
  return { type: e.type, schemaVersion: currentSchemaVersion[e.type], data: e.data, metadata: { eventId: id, commandId: id, correlationId: id, causationId: id, userId } };
};

/** Relay, projectors and one orderUpdated subscription over traced adapters; a command's append in a request span. */
function scenario(open: () => Promise<Parts>) {
  let parts: Parts;
  let stops: (() => Promise<void>)[] = [];
  const orderId = randomUUID();
  const caller = { userId: 'tracy', roles: [] };
  let requestSpan: { traceId: string; spanId: string };
  let updates: AsyncIterator<{ doc: { version: number }; eventType: string }>;

  beforeAll(async () => {
    const opened = await open();
    parts = { ...opened, store: traced.store(opened.store), bus: traced.bus(opened.bus), feed: traced.feed(opened.feed) };
    const relay = await startRelay({ store: parts.store, bus: parts.bus, log: quietLog, pollMs: 100, batch: 100 });
    const deps = { ...parts, deadLetters: new MemoryDeadLetters(), log: quietLog, concurrency: 4, maxDeliver: 3, checkpointEveryMs: 100 };
    const projectors = await Promise.all(projections.map((projection) => startProjector(deps, projection)));
    stops = [() => relay.stop(), ...projectors.map((projector) => () => projector.stop())];

    await parts.store.append(orderId, 0, [event({ type: 'OrderCreated', data: { orderId, userId: caller.userId, currency: 'USD', items: [{ sku: 'A-1', name: 'A', quantity: 1, unitPriceCents: 100 }] } }, caller.userId)]);
    updates = orderUpdates({ readStore: parts.readStore, feed: parts.feed, history: (id) => parts.store.readStream(id) }, caller, orderId)[Symbol.asyncIterator]() as typeof updates;
    expect((await updates.next()).value).toMatchObject({ eventType: 'Snapshot' });
    exporter.reset();

    // The command: its append runs inside the request's span, as under the HTTP and GraphQL spans.
    await tracer.startActiveSpan('request', async (span: Span) => {
      requestSpan = span.spanContext();
      await parts.store.append(orderId, 1, [event({ type: 'OrderConfirmed', data: {} }, caller.userId)]);
      span.end();
    });
    expect((await updates.next()).value).toMatchObject({ eventType: 'OrderConfirmed', doc: { version: 2 } });
  }, 60_000);
  afterAll(async () => {
    await updates?.return?.();
    for (const stop of stops.reverse()) await stop();
    await parts?.close();
  });

  it('makes the append, the publish, each projector apply and the subscription message one trace under the request', async () => {
    const ours = () => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === requestSpan.traceId);
    await expect.poll(() => ours().filter((s) => s.name.startsWith('apply ')).length).toBe(projections.length);
    // A subscription message's span ends when the subscriber is ready for the next one, as graphql-ws
    // is once it has sent it: ask for the next.
    void updates.next();
    await expect.poll(() => ours().some((s) => s.name === 'subscription message')).toBe(true);
    const spans = ours();
    const named = (name: string) => spans.filter((s) => s.name === name);
    const parentId = (s: (typeof spans)[number]) => s.parentSpanContext?.spanId;

    const [append] = named('append');
    expect(parentId(append!)).toBe(requestSpan.spanId);
    expect(append!.attributes['cqrs.order_id']).toBe(orderId);
    const [publish] = named('publish OrderConfirmed');
    expect(parentId(publish!)).toBe(append!.spanContext().spanId);
    const applies = spans.filter((s) => s.name.startsWith('apply '));
    expect(applies.map((s) => s.name).sort()).toEqual(projections.map((p) => `apply projector-${p.name}`).sort());
    for (const apply of applies) expect(parentId(apply)).toBe(append!.spanContext().spanId);
    const [message] = named('subscription message');
    expect(parentId(message!)).toBe(applies.find((s) => s.name === 'apply projector-orderDetails')!.spanContext().spanId);
  });

  it('keeps the traceparent of the append with the stored event', async () => {
    const [, confirmed] = await parts.store.readStream(orderId);
    expect(confirmed!.metadata.traceparent).toMatch(new RegExp(`^00-${requestSpan.traceId}-[0-9a-f]{16}-01$`));
  });

  it('sends a traceparent of the same trace with the bus message, where the bus has headers', async () => {
    if (!parts.headerOf) return expect(parts.bus).toBeInstanceOf(InProcessBus); // its messages are the stored events
    expect(await parts.headerOf(orderId)).toMatch(new RegExp(`^00-${requestSpan.traceId}-[0-9a-f]{16}-01$`));
  });
}

describe('when a command is traced through Postgres, JetStream and Redis', () => {
  scenario(async () => {
    const p = await openPipeline();
    return {
      store: p.store,
      bus: p.bus,
      readStore: p.readStore,
      feed: p.feed,
      headerOf: async (orderId) => {
        const { jetstreamManager } = await import('@nats-io/jetstream');
        const { connect } = await import('@nats-io/transport-node');
        const nc = await connect({ servers: p.env.NATS_URL });
        try {
          const message = await (await jetstreamManager(nc)).streams.getMessage(p.env.NATS_STREAM, { last_by_subj: `${p.env.NATS_SUBJECT_PREFIX}.${orderId}` });
          return message?.header.get('traceparent');
        } finally {
          await nc.close();
        }
      },
      close: () => p.close(),
    };
  });
});

describe('when a command is traced embedded, through PGlite and the in-process bus', () => {
  scenario(async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tracing-'));
    const store = await openEventStore({ dataDir: dir }, { migrate: true, log: quietLog });
    const bus = new InProcessBus();
    return {
      store,
      bus,
      readStore: new MemoryReadStore(),
      feed: new MemoryChangeFeed(),
      async close() {
        await bus.close();
        await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  });
});
