// Summarises a .cpuprofile (node --cpu-prof, or bench/micro/profile.ts): busy time by package or source
// file and by function, each counted once per sample it is on the stack of (inclusive), idle left out.
// Stacks end at an await, so time is charged to what ran synchronously, not to who awaited it.
//   npx tsx bench/micro/topProfile.ts <file.cpuprofile> [rows]
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

const [file, rows = '30'] = process.argv.slice(2);
if (!file) throw new Error('usage: npx tsx bench/micro/topProfile.ts <file.cpuprofile> [rows]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parents = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);

/** The package a frame belongs to, or its file under src/ or bench/; null for Node's own frames. */
function owner({ url }: ProfileNode['callFrame']): string | null {
  return /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? /\/((src|bench|scripts)\/.*)$/.exec(url)?.[1] ?? null;
}

const byOwner = new Map<string, number>();
const byFunction = new Map<string, number>();
let busy = 0;
profile.samples.forEach((id, i) => {
  if (nodes.get(id)!.callFrame.functionName === '(idle)') return;
  const micros = profile.timeDeltas[i] ?? 0;
  busy += micros;
  const owners = new Set<string>();
  const functions = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parents.get(at)) {
    const { callFrame } = nodes.get(at)!;
    const where = owner(callFrame);
    if (!where) continue;
    owners.add(where);
    functions.add(`${callFrame.functionName || '(anonymous)'} ${where}:${callFrame.lineNumber + 1}`);
  }
  for (const key of owners) byOwner.set(key, (byOwner.get(key) ?? 0) + micros);
  for (const key of functions) byFunction.set(key, (byFunction.get(key) ?? 0) + micros);
});

const top = (counts: Map<string, number>) =>
  [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, Number(rows))
    .map(([key, micros]) => `${((100 * micros) / busy).toFixed(1).padStart(5)} % ${(micros / 1000).toFixed(0).padStart(7)} ms  ${key}`)
    .join('\n');
console.log(`busy ${(busy / 1e6).toFixed(1)} s\n\nby package or file:\n${top(byOwner)}\n\nby function:\n${top(byFunction)}`);
