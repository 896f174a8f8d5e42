// The fold alone: N stored events, shaped and interleaved as `bench/lib/events.ts` writes them (orders
// of five: created, two items added, confirmed, paid), folded in memory through each projection the way
// the projector and the rebuild fold them (`foldEvent`: upcast, then the projection's evolve). No I/O:
// this is the CPU a read model's own code costs per event, the part of a rebuild no database can take.
//   npx tsx bench/micro/fold.ts [--n 200000] [--active 10000] [--repeats 5]
import { parseArgs } from 'node:util';
import type { StoredEvent } from '../../src/ports.js';
import { foldEvent } from '../../src/projectors/runtime.js';
import { projections } from '../../src/readModels/index.js';

const { values } = parseArgs({ options: { n: { type: 'string', default: '200000' }, active: { type: 'string', default: '10000' }, repeats: { type: 'string', default: '5' } } });
const n = Number(values.n);
const active = Number(values.active);
const repeats = Number(values.repeats);

const types = ['OrderCreated', 'OrderItemAdded', 'OrderItemAdded', 'OrderConfirmed', 'OrderPaid'];
const dataOf = (stream: string, version: number): unknown => {
  if (version === 1) return { orderId: stream, userId: 'bench-fold', currency: 'USD', items: [{ sku: 'BOOK-1', name: 'A book', quantity: 2, unitPriceCents: 1250 }] };
  if (version === 2) return { item: { sku: 'PEN-1', name: 'A pen', quantity: 1, unitPriceCents: 99 } };
  if (version === 3) return { item: { sku: 'MUG-1', name: 'A mug', quantity: 1, unitPriceCents: 800 } };
  if (version === 4) return {};
  return { paymentReference: `PAY-${stream}` };
};
const cohort = 5 * active;
const events: StoredEvent[] = [];
for (let g = 0; g < n; g++) {
  const stream = `00000000-0000-4000-8000-${(Math.floor(g / cohort) * active + (g % cohort) % active).toString(16).padStart(12, '0')}`;
  const version = Math.floor((g % cohort) / active) + 1;
  const id = `e-${g}`;
  events.push({
    position: BigInt(g + 1),
    streamId: stream,
    version,
    type: types[version - 1]!,
    schemaVersion: version === 1 ? 2 : 1,
    data: dataOf(stream, version),
    metadata: { eventId: id, commandId: id, correlationId: id, causationId: id, userId: 'bench-fold' },
    recordedAt: new Date(Date.UTC(2026, 10, 30) + g),
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`${n} events of ${Math.ceil(n / 5)} orders, ${active} open at once; the first of ${repeats + 1} runs warms up and is not counted`);
for (const projection of projections) {
  const rates: number[] = [];
  for (let r = 0; r <= repeats; r++) {
    const docs = new Map<string, unknown>();
    const start = performance.now();
    for (const event of events) docs.set(event.streamId, foldEvent(projection, docs.get(event.streamId) ?? null, event));
    const ms = performance.now() - start;
    if (r > 0) rates.push((n * 1000) / ms);
  }
  const m = median(rates);
  console.log(
    `${projection.name.padEnd(13)} median ${m.toFixed(0).padStart(9)} events/s (${(1e6 / m).toFixed(2)} µs each), runs ${rates.map((x) => x.toFixed(0)).join(' / ')}`,
  );
}
