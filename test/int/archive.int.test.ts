// Archiving finished orders on a real Postgres: the hot table shrinks, positions stay, and neither
// commands nor a rebuild of the read models from position 0 can tell the difference.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrder, snapshotSchemaVersion } from '../../src/commands/handleCommand.js';
import { type CommandHandlers, createCommandHandlers } from '../../src/commands/index.js';
import { ConflictError, InvalidStateError } from '../../src/domain/errors.js';
import type { Caller, OrderItem } from '../../src/domain/order/index.js';
import { type ArchiveOptions, type ArchiveProgress, archiveFinishedStreams } from '../../src/infrastructure/postgres/archive.js';
import { createEventStore, type PrismaEventStore } from '../../src/infrastructure/postgres/eventStore.js';
import { createPrismaClient } from '../../src/infrastructure/postgres/prisma.js';
import type { StoredEvent } from '../../src/ports.js';
import { type OrderDoc, orderDetails } from '../../src/readModels/orderDetails/projection.js';
import { toProjected } from '../../src/readModels/projection.js';
import { createTestDatabase, type TestDatabase } from '../db.js';

let db: TestDatabase;
let sql: pg.Pool;
let store: PrismaEventStore;
let commands: CommandHandlers;
let prisma: ReturnType<typeof createPrismaClient>;
/** What `npm run events -- archive` runs. */
const archive = (options: ArchiveOptions) => archiveFinishedStreams(prisma, options);

beforeAll(async () => {
  db = await createTestDatabase();
  sql = new pg.Pool({ connectionString: db.url });
  store = createEventStore({ url: db.url });
  prisma = createPrismaClient({ url: db.url });
  commands = createCommandHandlers({ store, maxRetries: 10, snapshotEvery: 100, log: pino({ level: 'silent' }) });
});
afterAll(async () => {
  await store?.close();
  await prisma?.$disconnect();
  await sql?.end();
  await db?.drop();
});

const alice: Caller = { userId: 'alice', roles: [] };
const ops: Caller = { userId: 'ops', roles: ['admin'] };
const as = (caller: Caller) => ({ caller, correlationId: randomUUID() });
const item = (sku: string): OrderItem => ({ sku, name: `item ${sku}`, quantity: 1, unitPriceCents: 500 });
type Stage = 'created' | 'confirmed' | 'paid' | 'delivered' | 'cancelled';

/** Moves each order one step per round, so the streams' events interleave in position order. */
async function createOrders(stages: Stage[]): Promise<string[]> {
  const ids = stages.map(() => randomUUID());
  const steps: Record<Stage, ((id: string) => Promise<unknown>)[]> = {
    created: [],
    confirmed: [(id) => commands.confirmOrder(id, as(alice))],
    paid: [(id) => commands.confirmOrder(id, as(alice)), (id) => commands.payOrder(id, 'pay-1', as(alice))],
    delivered: [
      (id) => commands.confirmOrder(id, as(alice)),
      (id) => commands.payOrder(id, 'pay-1', as(alice)),
      (id) => commands.shipOrder(id, 'track-1', as(ops)),
      (id) => commands.deliverOrder(id, as(ops)),
    ],
    cancelled: [(id) => commands.addOrderItem(id, item('B'), as(alice)), (id) => commands.cancelOrder(id, 'changed my mind', as(alice))],
  };
  for (const id of ids) await commands.createOrder({ orderId: id, items: [item('A')] }, as(alice));
  for (let round = 0; round < 4; round++)
    for (const [i, id] of ids.entries()) await steps[stages[i]!][round]?.(id);
  return ids;
}

async function count(table: 'events' | 'events_archive' | 'snapshots'): Promise<number> {
  const { rows } = await sql.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
  return Number(rows[0]!.n);
}

async function positions(table: 'events' | 'events_archive', ids: string[]): Promise<Record<string, string[]>> {
  const { rows } = await sql.query<{ stream_id: string; position: string }>(
    `SELECT stream_id, position FROM ${table} WHERE stream_id = ANY($1) ORDER BY position`,
    [ids],
  );
  return Object.fromEntries(ids.map((id) => [id, rows.filter((row) => row.stream_id === id).map((row) => row.position)]));
}

/** Every event through readAll from 0, in small pages so pages straddle both tables. */
async function readEverything(): Promise<StoredEvent[]> {
  const all: StoredEvent[] = [];
  for (let page = await store.readAll(0n, 7); page.length > 0; page = await store.readAll(all.at(-1)!.position, 7)) all.push(...page);
  return all;
}

/** What a full rebuild of the order-details read model makes of the store. */
function rebuild(events: StoredEvent[]): Map<string, { version: number; eventAt: string; doc: OrderDoc }> {
  const docs = new Map<string, { version: number; eventAt: string; doc: OrderDoc }>();
  for (const event of events) {
    const current = docs.get(event.streamId);
    expect(event.version).toBe((current?.version ?? 0) + 1);
    docs.set(event.streamId, { version: event.version, eventAt: event.recordedAt.toISOString(), doc: orderDetails.evolve(current?.doc ?? null, toProjected(event)) });
  }
  return docs;
}

describe('given finished, unfinished, recently finished and unpublished orders', () => {
  const cutoff = new Date(Date.now() - 7 * 24 * 3600 * 1000);
  let delivered: string[];
  let cancelled: string[];
  let unfinished: string[];
  let recent: string[];
  let unpublished: string[];
  let before: { events: number; all: StoredEvent[]; head: bigint; positions: Record<string, string[]> };

  beforeAll(async () => {
    const old = await createOrders(['delivered', 'created', 'cancelled', 'delivered', 'paid', 'cancelled', 'delivered', 'confirmed']);
    delivered = [old[0]!, old[3]!, old[6]!];
    cancelled = [old[2]!, old[5]!];
    unfinished = [old[1]!, old[4]!, old[7]!];
    recent = await createOrders(['delivered', 'cancelled']);
    await store.relayOutbox(10_000, async () => {});
    unpublished = await createOrders(['delivered']);
    // Thirty days ago, for everything but the recent orders.
    await sql.query(`UPDATE events SET committed_at = committed_at - interval '30 days' WHERE stream_id <> ALL($1)`, [recent]);
    for (const id of [delivered[0]!, unfinished[0]!]) {
      const { state, version } = await loadOrder(store, id);
      await store.writeSnapshot(id, version, snapshotSchemaVersion, state);
    }
    const all = await readEverything();
    before = { events: await count('events'), all, head: await store.headPosition(), positions: await positions('events', [...delivered, ...cancelled]) };
  });

  describe('when a dry run goes through npm run events', () => {
    it('reports what would move and changes nothing', async () => {
      const { stdout } = await promisify(execFile)('npm', ['run', '--silent', 'events', '--', 'archive', '--before', cutoff.toISOString(), '--dry-run', '--batch', '2'], {
        env: { ...process.env, DATABASE_URL: db.url },
      });

      expect(stdout).toMatch(/batch 1: /);
      expect(stdout).toMatch(/would archive 5 streams, 21 events \(.+ events\/s\); 1 skipped with unpublished outbox rows/);
      expect(await count('events')).toBe(before.events);
      expect(await count('events_archive')).toBe(0);
      expect(await count('snapshots')).toBe(2);
    });
  });

  describe('when the finished orders are archived', () => {
    const progress: ArchiveProgress[] = [];

    beforeAll(async () => {
      const summary = await archive({ before: cutoff, batchSize: 2, onProgress: (p) => progress.push(p) });
      expect(summary).toMatchObject({ dryRun: false, streams: 5, events: 21, skipped: 1 });
    });

    it('moves their events out of the hot table, in batches, keeping their positions', async () => {
      expect(await count('events')).toBe(before.events - 21);
      expect(await count('events_archive')).toBe(21);
      expect(await positions('events_archive', [...delivered, ...cancelled])).toEqual(before.positions);
      expect(Object.values(await positions('events', [...delivered, ...cancelled])).flat()).toEqual([]);
      expect(progress.map((p) => p.batch)).toEqual([1, 2, 3]);
      expect(progress.at(-1)).toMatchObject({ streams: 5, events: 21 });
    });

    it('leaves unfinished, recently finished and unpublished orders where they were', async () => {
      const kept = await positions('events', [...unfinished, ...recent, ...unpublished]);
      for (const id of [...unfinished, ...recent, ...unpublished]) expect(kept[id]!.length).toBeGreaterThan(0);
    });

    it('drops the snapshots of archived orders only', async () => {
      expect(await store.readSnapshot(delivered[0]!)).toBeNull();
      expect(await store.readSnapshot(unfinished[0]!)).not.toBeNull();
    });

    it('reads every event at the same position, so a rebuild from position 0 makes the same read model', async () => {
      const after = await readEverything();

      expect(after).toEqual(before.all);
      expect(rebuild(after)).toEqual(rebuild(before.all));
      expect(await store.headPosition()).toBe(before.head);
    });

    it('still loads archived orders for commands, which the lifecycle then refuses', async () => {
      expect((await loadOrder(store, delivered[1]!)).state).toMatchObject({ status: 'DELIVERED' });
      await expect(commands.deliverOrder(delivered[1]!, as(ops))).rejects.toBeInstanceOf(InvalidStateError);
      await expect(commands.cancelOrder(cancelled[0]!, 'again', as(alice))).rejects.toBeInstanceOf(InvalidStateError);
      await expect(commands.createOrder({ orderId: delivered[0]!, items: [item('A')] }, as(alice))).rejects.toBeInstanceOf(ConflictError);
      expect(await count('events_archive')).toBe(21);
    });

    it('lets the orders still in progress go on', async () => {
      const result = await commands.payOrder(unfinished[2]!, 'pay-2', as(alice));

      expect(result.version).toBe(3);
    });

    it('finds nothing more to archive on a second run', async () => {
      expect(await archive({ before: cutoff })).toMatchObject({ streams: 0, events: 0, skipped: 1 });
    });
  });
});
