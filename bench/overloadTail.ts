// Where an overload run's tail came from: reads what `OVERLOAD_RAW=<dir> BENCH_SERVER_LOG=<dir>/server.log
// npm run bench:overload` left in <dir> and, for each phase, lists the episodes in which even the
// fastest answer of a 10 ms slice (a refusal before parsing, or an admitted command where none was
// refused) took over 10 ms, with how many admitted commands around it were over half the phase's p99,
// and what the service (bench/lib/stallProbe.mjs) and the generator reported then.
//   npx tsx bench/overloadTail.ts <dir>
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';

interface Answer { dueMs: number; lateMs: number; latencyMs: number; kind: string; server?: string }
interface Probe { probe: string; at: number; ms: number; kind?: string }

const dir = process.argv[2];
if (!dir) throw new Error('usage: npx tsx bench/overloadTail.ts <dir>');
const logFile = path.join(dir, 'server.log');
const probes: Probe[] = existsSync(logFile)
  ? readFileSync(logFile, 'utf8').split('\n').filter((line) => line.startsWith('{"probe"')).map((line) => JSON.parse(line) as Probe)
  : [];
const SLICE = 10;
const label = (p: Probe & { rel: number }) => `${p.probe}${p.kind ? `/${p.kind}` : ''} ${p.ms} ms at ${p.rel}`;

for (const file of readdirSync(dir).filter((f) => /^\d+\.json$/.test(f)).sort((a, b) => parseInt(a) - parseInt(b))) {
  const answers = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Answer[];
  const { startedAt } = JSON.parse(readFileSync(path.join(dir, file.replace('.json', '-generator.json')), 'utf8')) as { startedAt: number };
  // The generator's own lateness: requests it tried to send over 5 ms after they were due.
  const stalls = answers.filter((a) => a.lateMs > 5).map((a) => ({ atMs: Math.round(a.dueMs), lateMs: Math.round(a.lateMs) }));
  const endMs = Math.max(...answers.map((a) => a.dueMs)) + 200;
  const service = probes.map((p) => ({ ...p, rel: p.at - startedAt })).filter((p) => p.rel >= -100 && p.rel <= endMs);
  const admitted = answers.filter((a) => a.kind === 'admitted').map((a) => a.latencyMs).sort((a, b) => b - a);
  const p99 = admitted[Math.floor(admitted.length * 0.01)] ?? 0;
  console.log(`\n${file.replace('.json', '')}/s: ${admitted.length} admitted, p99 ${p99.toFixed(1)} ms (the ${Math.floor(admitted.length * 0.01)}th slowest); service: ${service.filter((p) => p.probe === 'gc').length} GC pauses over 5 ms, ${service.filter((p) => p.probe === 'stall').length} stalls over 10 ms; generator: ${stalls.length} requests sent over 5 ms late (latest ${Math.max(0, ...stalls.map((s) => s.lateMs))} ms)`);
  const slices = new Map<number, Answer[]>();
  for (const a of answers) {
    const k = Math.floor(a.dueMs / SLICE);
    const slice = slices.get(k);
    if (slice) slice.push(a);
    else slices.set(k, [a]);
  }
  const episodes: { from: number; to: number; peak: number }[] = [];
  for (const k of [...slices.keys()].sort((a, b) => a - b)) {
    const fast = slices.get(k)!.filter((a) => a.server === 'http' || (!a.server && a.kind === 'admitted'));
    if (fast.length === 0) continue;
    const least = Math.min(...fast.map((a) => a.latencyMs));
    if (least <= 10) continue;
    const last = episodes.at(-1);
    if (last && k - last.to <= 3) (last.to = k), (last.peak = Math.max(last.peak, least));
    else episodes.push({ from: k, to: k, peak: least });
  }
  const explained = new Set<Answer>();
  for (const e of episodes) {
    const fromMs = e.from * SLICE;
    const toMs = (e.to + 1) * SLICE;
    const around = answers.filter((a) => a.kind === 'admitted' && a.dueMs >= fromMs - 50 && a.dueMs <= toMs + 100 && a.latencyMs > p99 / 2);
    for (const a of around) explained.add(a);
    const slow = around.length;
    const near = service.filter((p) => p.rel >= fromMs - 80 && p.rel <= toMs + 20).map(label);
    const generator = stalls.filter((s) => s.atMs >= fromMs - 80 && s.atMs <= toMs + 20).map((s) => `${s.lateMs} ms at ${s.atMs}`);
    console.log(`  ${fromMs}-${toMs} ms: fastest answer up to ${e.peak.toFixed(0)} ms; ${slow} admitted over ${(p99 / 2).toFixed(0)} ms | service: ${near.join(', ') || '-'} | generator: ${generator.join(', ') || '-'}`);
  }
  const total = admitted.filter((ms) => ms > p99 / 2).length;
  console.log(`  admitted over ${(p99 / 2).toFixed(0)} ms: ${total}, of which ${explained.size} around the episodes above`);
}
