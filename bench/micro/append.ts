// The write side without HTTP: times N appends straight into Postgres through the event store, and N
// commands through the command routine (load, decide, append), counting the SQL round trips each one
// costs and the CPU this process spent. Run it on a quiet machine, before and after a change, back to back:
//   npx tsx bench/micro/append.ts [--n 2000] [--concurrency 1,8]
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import pino from 'pino';
import { createCommandHandlers } from '../../src/commands/index.js';
import { createEventStore } from '../../src/infrastructure/postgres/eventStore.js';
import type { NewEvent } from '../../src/ports.js';
import { BenchEnv } from '../lib/env.js';
import { items } from '../lib/graphql.js';

const { values } = parseArgs({ options: { n: { type: 'string', default: '2000' }, concurrency: { type: 'string', default: '1,8' } } });
const n = Number(values.n);
const levels = values.concurrency.split(',').map(Number);

// Every SQL statement pg sends (BEGIN and COMMIT included) is one round trip to the server.
let roundTrips = 0;
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  roundTrips++;
  return (query as (...a: unknown[]) => unknown).apply(this, args);
} as typeof query;

const newEvent = (): NewEvent => ({
  type: 'OrderCreated',
  schemaVersion: 2,
  data: { orderId: randomUUID(), userId: 'bench', currency: 'USD', items },
  metadata: { eventId: randomUUID(), commandId: randomUUID(), correlationId: randomUUID(), causationId: randomUUID(), userId: 'bench' },
});

async function measure(name: string, concurrency: number, op: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const trips = roundTrips;
  const cpu = process.cpuUsage();
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) await op(next++);
  }));
  const ms = performance.now() - start;
  const used = process.cpuUsage(cpu);
  console.log(
    `${name.padEnd(28)} c=${String(concurrency).padEnd(3)} ${((n * 1000) / ms).toFixed(0).padStart(6)}/s  ${((ms * concurrency) / n).toFixed(2).padStart(6)} ms each` +
      `  ${((roundTrips - trips) / n).toFixed(1).padStart(4)} round trips  ${((used.user + used.system) / 1000 / n).toFixed(2)} ms CPU each`,
  );
}

const env = await BenchEnv.create();
const store = createEventStore({ url: env.databaseUrl });
try {
  const commands = createCommandHandlers({ store, maxRetries: 10, snapshotEvery: 100, log: pino({ level: 'silent' }) });
  const caller = { userId: 'bench', roles: [] };
  const options = () => ({ caller, correlationId: randomUUID() });
  await measure('warm-up', 8, () => store.append(randomUUID(), 0, [newEvent()]));
  for (const c of levels) {
    await measure('append (new stream)', c, () => store.append(randomUUID(), 0, [newEvent()]));
    await measure('append + idempotency', c, () =>
      store.append(randomUUID(), 0, [newEvent()], { userId: 'bench', key: randomUUID(), requestHash: 'h', result: (r) => ({ version: r.version, position: String(r.position) }) }),
    );
    await measure('createOrder command', c, () => commands.createOrder({ items }, options()));
    const ids: string[] = [];
    await measure('createOrder (idempotent)', c, async () => ids.push((await commands.createOrder({ items }, { ...options(), idempotencyKey: randomUUID() })).orderId));
    await measure('addOrderItem command', c, (i) => commands.addOrderItem(ids[i]!, { sku: 'PEN-1', name: 'A pen', quantity: 1, unitPriceCents: 99 }, options()));
  }
} finally {
  await store.close();
  await env.cleanup();
}
process.exit(0);
