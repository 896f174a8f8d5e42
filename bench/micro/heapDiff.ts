// What grew between two heap snapshots (bench/micro/fanout.ts --snapshots), per subscriber: bytes and
// count of each kind of object (constructor, closure name, array, string...), biggest first. With
// --owners NAME, also where the objects of that kind in the second snapshot hang from: the first few
// retainers up, by edge name, for the groups with at least one object per subscriber.
//   npx tsx bench/micro/heapDiff.ts <before.heapsnapshot> <after.heapsnapshot> <subscribers> [--rows 40] [--owners NAME] [--depth 3]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

const { positionals, values } = parseArgs({ allowPositionals: true, options: { rows: { type: 'string', default: '40' }, owners: { type: 'string' }, depth: { type: 'string', default: '3' } } });
const [beforeFile, afterFile, subscribers] = positionals;
if (!beforeFile || !afterFile || !subscribers) throw new Error('usage: npx tsx bench/micro/heapDiff.ts <before> <after> <subscribers> [--rows N] [--owners NAME] [--depth N]');
const n = Number(subscribers);

function reader(file: string) {
  const heap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const { meta } = heap.snapshot;
  const width = meta.node_fields.length;
  const [type, name, size, edgeCount] = ['type', 'name', 'self_size', 'edge_count'].map((field) => meta.node_fields.indexOf(field)) as [number, number, number, number];
  const kinds = meta.node_types[0];
  /** What a node is, in a word: its constructor or closure name; strings, numbers and code in one bin each. */
  const kind = (node: number) => {
    const t = kinds[heap.nodes[node + type]!]!;
    const label = heap.strings[heap.nodes[node + name]!]!.slice(0, 60);
    if (t === 'object' || t === 'native') return label;
    if (t === 'closure') return `closure ${label || '(anonymous)'}`;
    if (t === 'array' || t === 'hidden' || t === 'object shape') return `(${t}) ${label}`;
    return `(${t})`;
  };
  return { heap, width, size, edgeCount, kind };
}

function tally(file: string) {
  const { heap, width, size, kind } = reader(file);
  const byKind = new Map<string, { count: number; bytes: number }>();
  for (let node = 0; node < heap.nodes.length; node += width) {
    const entry = byKind.get(kind(node)) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += heap.nodes[node + size]!;
    byKind.set(kind(node), entry);
  }
  return byKind;
}

const before = tally(beforeFile);
const after = tally(afterFile);
const rows = [...new Set([...before.keys(), ...after.keys()])].map((key) => {
  const [a, b] = [before.get(key) ?? { count: 0, bytes: 0 }, after.get(key) ?? { count: 0, bytes: 0 }];
  return { key, count: (b.count - a.count) / n, bytes: (b.bytes - a.bytes) / n };
});
rows.sort((x, y) => y.bytes - x.bytes);
console.log(`grown in all: ${(rows.reduce((sum, row) => sum + row.bytes, 0) / 1024).toFixed(1)} KiB per subscriber (self sizes)\n`);
console.log('   bytes   count  kind (per subscriber)');
for (const row of rows.slice(0, Number(values.rows))) console.log(`${row.bytes.toFixed(0).padStart(8)} ${row.count.toFixed(2).padStart(7)}  ${row.key}`);

if (values.owners) {
  const { heap, width, size, edgeCount, kind } = reader(afterFile);
  const { meta } = heap.snapshot;
  const edgeWidth = meta.edge_fields.length;
  const [edgeType, edgeName, edgeTo] = ['type', 'name_or_index', 'to_node'].map((field) => meta.edge_fields.indexOf(field)) as [number, number, number];
  const edgeKinds = meta.edge_types[0];
  // The first strong retainer of each node is enough to say where a kind of object hangs from.
  const owner = new Map<number, [number, string]>();
  for (let node = 0, edge = 0; node < heap.nodes.length; node += width) {
    for (let i = 0; i < heap.nodes[node + edgeCount]!; i++, edge += edgeWidth) {
      const to = heap.edges[edge + edgeTo]!;
      const t = edgeKinds[heap.edges[edge + edgeType]!];
      if (t === 'weak' || t === 'shortcut' || owner.has(to)) continue;
      const label = t === 'element' || t === 'hidden' ? `[${heap.edges[edge + edgeName]}]` : heap.strings[heap.edges[edge + edgeName]!]!;
      owner.set(to, [node, label]);
    }
  }
  const chains = new Map<string, { count: number; bytes: number }>();
  for (let node = 0; node < heap.nodes.length; node += width) {
    if (kind(node) !== values.owners) continue;
    const parts: string[] = [];
    for (let at = node, d = 0; d < Number(values.depth); d++) {
      const up = owner.get(at);
      if (!up) break;
      parts.push(`.${up[1]} of ${kind(up[0])}`);
      at = up[0];
    }
    const key = parts.join(' ');
    const entry = chains.get(key) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += heap.nodes[node + size]!;
    chains.set(key, entry);
  }
  console.log(`\n${values.owners}, by retainers (groups of at least one per subscriber):`);
  for (const [key, entry] of [...chains].filter(([, entry]) => entry.count >= n).sort((x, y) => y[1].bytes - x[1].bytes).slice(0, 30))
    console.log(`${(entry.bytes / n).toFixed(0).padStart(8)} ${(entry.count / n).toFixed(2).padStart(7)}  ${key}`);
}
