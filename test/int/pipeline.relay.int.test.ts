import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JetStreamBus } from '../../src/infrastructure/nats/jetStreamBus.js';
import { startRelay } from '../../src/infrastructure/outboxRelay.js';
import { outboxConsumer } from '../../src/infrastructure/postgres/eventStore.js';
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { currentSchemaVersion } from '../../src/domain/order/index.js';
import type { NewEvent } from '../../src/ports.js';
import type { EventBus, StoredEvent } from '../../src/ports.js';
import { uniqueName, urls } from '../services.js';
import { openPipeline, type Pipeline, quietLog, writeOrders } from './fixtures/pipeline.js';
import { deleteStream } from '../jetStreamAdmin.js';

let p: Pipeline;
beforeAll(async () => {
  p = await openPipeline();
});
afterAll(async () => {
  await p?.close();
});

/** Records what went through `bus.publish`, per relay. */
function recording(bus: EventBus, log: StoredEvent[]): EventBus {
  return { ...bus, publish: async (event) => (await bus.publish(event), void log.push(event)), ping: () => bus.ping(), close: () => bus.close(), subscribe: (...args) => bus.subscribe(...args) };
}

function newEvent(type: keyof typeof currentSchemaVersion, data: unknown): NewEvent {
  const id = randomUUID();
  return { type, schemaVersion: currentSchemaVersion[type], data, metadata: { eventId: id, commandId: id, correlationId: id, causationId: id, userId: 'mallory' } };
}

/** Per stream, the versions in the order they went out. */
function byStream(events: StoredEvent[]): Map<string, number[]> {
  const streams = new Map<string, number[]>();
  for (const event of events) streams.set(event.streamId, [...(streams.get(event.streamId) ?? []), event.version]);
  return streams;
}

describe('when three relays run against one outbox while orders are written', () => {
  it('publishes every event exactly once, each stream in version order', async () => {
    const published: StoredEvent[] = [];
    const relays = await Promise.all([1, 2, 3].map(() => startRelay({ store: p.store, bus: recording(p.bus, published), log: quietLog, pollMs: 50, batch: 20 })));
    try {
      await writeOrders(p.store, { orders: 60, seed: 21, concurrency: 12 });
      await expect.poll(() => p.versions.outboxBacklog(), { timeout: 15_000 }).toBe(0);
      const head = await p.store.headPosition();
      expect(published).toHaveLength(Number(head));
      expect(new Set(published.map((e) => e.metadata.eventId)).size).toBe(published.length);
      for (const versions of byStream(published).values()) expect(versions).toEqual(versions.map((_, i) => i + 1));
    } finally {
      await Promise.all(relays.map((relay) => relay.stop()));
    }
  });
});

describe('when one outbox row can never be published (an illegal subject) while other orders are written', () => {
  it('publishes every other event at once, dead-letters that row after OUTBOX_MAX_ATTEMPTS, and stores each event in the stream once', async () => {
    const options = { url: urls.nats, stream: uniqueName('POISON'), subjectPrefix: `test.${uniqueName('poison')}`, storage: 'memory' as const };
    const bus = await JetStreamBus.connect(options);
    const published: StoredEvent[] = [];
    const deadLettered: string[] = [];
    const log = pino({ level: 'error' }, { write: (line: string) => void deadLettered.push(line) });
    const before = await p.store.headPosition();
    // Written before the id rule existed, or by any other writer: the relay must survive it.
    const poison = 'poison id';
    await p.store.append(poison, 0, [newEvent('OrderCreated', { orderId: poison, userId: 'mallory', currency: 'USD', items: [{ sku: 'P-1', name: 'p', quantity: 1, unitPriceCents: 1 }] })]);
    const relay = await startRelay({ store: p.store, bus: recording(bus, published), log, pollMs: 100, batch: 50, maxAttempts: 3 });
    try {
      const written = await writeOrders(p.store, { orders: 20, seed: 31 });
      const goodEvents = Number(await p.store.headPosition()) - Number(before) - 1;
      // Nothing waits behind the poison row: every other event reaches the bus.
      await expect.poll(() => published.length, { timeout: 10_000 }).toBe(goodEvents);
      expect(new Set(published.map((event) => event.streamId))).toEqual(new Set(written));

      // Three counted failures (1 s, then 2 s of backoff) and it is dead-lettered, with a log line.
      await expect.poll(() => p.deadLetters.list({ unresolvedOnly: true }), { timeout: 15_000 }).toEqual([
        expect.objectContaining({ consumer: outboxConsumer, streamId: poison, version: 1, deliveries: 3, reason: expect.stringMatching(/not published/) }),
      ]);
      expect(deadLettered.join('\n')).toMatch(/outbox row dead-lettered/);
      const [row] = await p.prisma.$queryRaw<{ attempts: number; dead: boolean }[]>`
        SELECT attempts, dead_lettered_at IS NOT NULL AS dead FROM outbox o JOIN events e USING (position) WHERE e.stream_id = ${poison}`;
      expect(row).toEqual({ attempts: 3, dead: true });
      expect(await p.versions.oldestPendingMs()).toBe(0);

      // The relay keeps running past it: later orders still go out, and nothing was stored twice.
      const more = await writeOrders(p.store, { orders: 5, seed: 32 });
      await expect.poll(() => new Set(published.map((event) => event.streamId)).size, { timeout: 10_000 }).toBe(written.length + more.length);
      // Once the outbox is drained (a publish that timed out on a loaded machine is retried after its
      // backoff), the stream holds each good event of the store exactly once.
      await expect.poll(() => p.versions.outboxBacklog(), { timeout: 15_000 }).toBe(0);
      const good = Number(await p.store.headPosition()) - Number(before) - 1;
      const nc = await connect({ servers: urls.nats });
      try {
        expect((await (await jetstreamManager(nc)).streams.info(options.stream)).state.messages).toBe(good);
        expect(new Set(published.map((event) => event.metadata.eventId)).size).toBe(good);
      } finally {
        await nc.close();
      }
    } finally {
      await relay.stop();
      await deleteStream(options).catch(() => {});
      await bus.close();
    }
  });
});

describe('when an outbox row keeps failing for longer than OUTBOX_STALL_MS', () => {
  it('reports the relay not ready, naming the age of the oldest unpublished event, until the row is dead-lettered', async () => {
    const options = { url: urls.nats, stream: uniqueName('STALL'), subjectPrefix: `test.${uniqueName('stall')}`, storage: 'memory' as const };
    const bus = await JetStreamBus.connect(options);
    const stuck = 'stuck id';
    await p.store.append(stuck, 0, [newEvent('OrderCreated', { orderId: stuck, userId: 'mallory', currency: 'USD', items: [{ sku: 'P-1', name: 'p', quantity: 1, unitPriceCents: 1 }] })]);
    const relay = await startRelay({ store: p.store, bus, log: quietLog, pollMs: 100, batch: 50, maxAttempts: 4, stallMs: 1000, oldestPendingMs: () => p.versions.oldestPendingMs() });
    try {
      await expect(relay.ready()).resolves.toBeUndefined();
      await expect.poll(() => relay.ready().then(() => 'ready', (error: Error) => error.message), { timeout: 10_000, interval: 200 }).toMatch(/oldest unpublished event is \d+ s old/);
      // Once given up on (1 + 2 + 4 s of backoff), it no longer holds the relay's readiness.
      await expect.poll(() => relay.ready().then(() => 'ready', (error: Error) => error.message), { timeout: 20_000, interval: 250 }).toBe('ready');
    } finally {
      await relay.stop();
      await deleteStream(options).catch(() => {});
      await bus.close();
    }
  });
});

describe('when NATS goes down while orders are written, and comes back', () => {
  let server: ChildProcess | undefined;
  let dir: string;
  let port: number;

  const startNats = async () => {
    server = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], { stdio: 'ignore' });
    await waitForPort(port);
  };
  const killNats = async () => {
    const exited = new Promise((resolve) => server!.once('exit', resolve));
    server!.kill('SIGKILL');
    await exited;
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'nats-'));
    port = await freePort();
    await startNats();
  });
  afterAll(async () => {
    if (server?.exitCode === null) await killNats();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps the backlog waiting, then drains it in order once NATS is back', async () => {
    const options = { url: `nats://127.0.0.1:${port}`, stream: uniqueName('DOWN'), subjectPrefix: `test.${uniqueName('down')}`, timeoutMs: 1000 };
    const bus = await JetStreamBus.connect(options);
    const before = Number(await p.store.headPosition()); // the other test's events went to the shared server
    const relay = await startRelay({ store: p.store, bus, log: quietLog, pollMs: 100, batch: 50 });
    try {
      await writeOrders(p.store, { orders: 10, seed: 22 });
      await expect.poll(() => p.versions.outboxBacklog(), { timeout: 10_000 }).toBe(0);
      await sleep(500); // what the server acked reaches its files before the kill

      await killNats();
      await writeOrders(p.store, { orders: 10, seed: 23 });
      await sleep(1500);
      const waiting = await p.versions.outboxBacklog();
      expect(waiting).toBeGreaterThan(0);

      await startNats();
      await expect.poll(() => p.versions.outboxBacklog(), { timeout: 20_000 }).toBe(0);

      const received: StoredEvent[] = [];
      const subscription = await bus.subscribe(uniqueName('check'), async (message) => {
        received.push(message.event);
        await message.ack();
      }, { concurrency: 1 });
      const written = Number(await p.store.headPosition()) - before;
      await expect.poll(() => received.length, { timeout: 15_000 }).toBeGreaterThanOrEqual(written);
      await subscription.stop();
      expect(new Set(received.map((e) => e.metadata.eventId)).size).toBe(written);
      for (const versions of byStream(received).values()) expect(versions).toEqual(versions.map((_, i) => i + 1));
    } finally {
      await relay.stop();
      await deleteStream(options).catch(() => {});
      await bus.close();
    }
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitForPort(port: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = new Socket().once('connect', () => (socket.destroy(), resolve(true))).once('error', () => resolve(false));
      socket.connect(port, '127.0.0.1');
    });
    if (open) return;
    await sleep(100);
  }
  throw new Error(`nats-server did not listen on ${port}`);
}
