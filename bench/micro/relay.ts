// The outbox relay without the service: N events (one per order, as createOrder writes them) are put in
// the outbox at once, then drained to a JetStream stream of this run's own through the event store's
// relayOutbox, batch by batch, as the relay does after an outage or a burst. Prints events/s.
//   npx tsx bench/micro/relay.ts [--n 20000] [--batch 200] [--in-flight 1,64]
import { parseArgs } from 'node:util';
import pg from 'pg';
import { JetStreamBus } from '../../src/infrastructure/nats/jetStreamBus.js';
import { createEventStore } from '../../src/infrastructure/postgres/eventStore.js';
import type { StoredEvent } from '../../src/ports.js';
import { deleteStream, purgeStream } from '../../test/jetStreamAdmin.js';
import { BenchEnv, local } from '../lib/env.js';

const { values } = parseArgs({ options: { n: { type: 'string', default: '20000' }, batch: { type: 'string', default: '200' }, 'in-flight': { type: 'string', default: '1,64' } } });
const n = Number(values.n);
const batch = Number(values.batch);

const env = await BenchEnv.create();
const store = createEventStore({ url: env.databaseUrl });
const stream = { url: local.nats, stream: env.stream };
const bus = await JetStreamBus.connect({ ...stream, subjectPrefix: `${env.stream.toLowerCase()}.events` });
const db = new pg.Client({ connectionString: env.databaseUrl });
await db.connect();
try {
  for (const inFlight of values['in-flight'].split(',').map(Number)) {
    await db.query('TRUNCATE events, outbox');
    await db.query(
      `WITH e AS (
         INSERT INTO events (event_id, stream_id, version, type, schema_version, data, metadata)
         SELECT gen_random_uuid(), gen_random_uuid()::text, 1, 'OrderCreated', 2, '{"items": []}', jsonb_build_object('eventId', gen_random_uuid(), 'userId', 'bench')
         FROM generate_series(1, $1) RETURNING position)
       INSERT INTO outbox (position) SELECT position FROM e`,
      [n],
    );
    await purgeStream(stream);
    const publish = (event: StoredEvent) => bus.publish(event);
    const cpu = process.cpuUsage();
    const start = performance.now();
    let published = 0;
    for (let count; (count = await store.relayOutbox(batch, publish, { inFlight })) > 0; ) published += count;
    const seconds = (performance.now() - start) / 1000;
    const used = process.cpuUsage(cpu);
    if (published !== n) throw new Error(`published ${published} of ${n}`);
    console.log(`relay ${n} events, batches of ${batch}, in flight ${String(inFlight).padEnd(3)} ${(n / seconds).toFixed(0).padStart(6)} events/s  ${seconds.toFixed(2)} s  ${((used.user + used.system) / 1000 / n).toFixed(3)} ms CPU each`);
  }
} finally {
  await db.end();
  await deleteStream(stream);
  await bus.close();
  await store.close();
  await env.cleanup();
}
process.exit(0);
