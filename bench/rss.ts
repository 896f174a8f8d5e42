// Resident memory of each role, run by tsx (src/main.ts) and compiled (dist/main.js), on the local
// Postgres, NATS and Redis: at idle after start, and the peak under a light open-loop load. The measured
// process runs one role; the other roles it needs run in a helper process, so the load reaches it.
//   npm run build && npx tsx bench/rss.ts [--seconds 20] [--rate 40]
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { BenchEnv } from './lib/env.js';
import { GraphQLHttp } from './lib/graphql.js';
import { createOrder, readOrder } from './lib/operations.js';
import { spawnServer, type SpawnedServer } from './lib/spawn.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '20' }, rate: { type: 'string', default: '40' } } });
const loadSeconds = Number(values.seconds);
const rate = Number(values.rate); // commands per second, and as many reads where reads are served

const roles = ['command', 'query', 'relay', 'projector', 'all'] as const;
type Role = (typeof roles)[number];
/** What else must run so that load reaches the measured role. */
const helpers: Record<Role, string | null> = {
  command: 'relay,projector',
  query: 'command,relay,projector',
  relay: 'command,projector',
  projector: 'command,relay',
  all: null,
};

const rssMiB = async (pid: number) => {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
};

async function measure(entry: string, role: Role): Promise<{ idle: number; load: number; sent: number }> {
  const env = await BenchEnv.create();
  try {
    const serviceEnv = env.serviceEnv;
    // Helpers first, so the measured role is the only one doing its job (the command role migrates).
    const helper = helpers[role] && (await spawnServer('dist/main.js', { ...serviceEnv, ROLE: helpers[role]! }, 'service started'));
    const measured: SpawnedServer = await spawnServer(entry, { ...serviceEnv, ROLE: role }, 'service started');
    try {
      await sleep(5_000);
      const idle = await rssMiB(measured.pid);
      const writer = new GraphQLHttp(role === 'command' || role === 'all' ? measured.url : (helper as SpawnedServer).url, 16);
      const reader = role === 'query' || role === 'all' ? new GraphQLHttp(measured.url, 16) : null;
      const latest = new Map<number, string>(); // per client: the newest order its user may read
      let peak = idle;
      let sent = 0;
      const pending = new Set<Promise<unknown>>();
      const start = Date.now();
      for (let i = 0; Date.now() - start < loadSeconds * 1000; i++) {
        // Open loop: each request leaves at its planned time, whether the last one has answered or not.
        const due = start + (i * 1000) / rate;
        if (due > Date.now()) await sleep(due - Date.now());
        const client = i % 50;
        const write = createOrder(writer, client).then((id) => void latest.set(client, id));
        pending.add(write);
        void write.finally(() => pending.delete(write)).catch(() => {});
        const readable = latest.get(client);
        if (reader && readable) {
          const read = readOrder(reader, client, readable).catch(() => {});
          pending.add(read);
          void read.finally(() => pending.delete(read));
        }
        sent++;
        if (i % 10 === 0) peak = Math.max(peak, await rssMiB(measured.pid));
      }
      await Promise.allSettled(pending);
      peak = Math.max(peak, await rssMiB(measured.pid));
      writer.close();
      reader?.close();
      return { idle, load: peak, sent };
    } finally {
      await measured.stop();
      if (helper) await helper.stop();
    }
  } finally {
    await env.cleanup();
  }
}

const rows: string[] = [];
for (const role of roles) {
  const before = await measure('src/main.ts', role);
  const after = await measure('dist/main.js', role);
  const f = (n: number) => n.toFixed(0);
  rows.push(`| ${role} | ${f(before.idle)} | ${f(before.load)} | ${f(after.idle)} | ${f(after.load)} |`);
  console.error(`${role}: tsx ${f(before.idle)}/${f(before.load)} MiB, compiled ${f(after.idle)}/${f(after.load)} MiB (${after.sent} commands)`);
}
console.log(`| ROLE | tsx idle (MiB) | tsx under load | compiled idle | compiled under load |\n|---|---:|---:|---:|---:|\n${rows.join('\n')}`);
console.log(`\nLoad: ${rate} createOrder/s for ${loadSeconds} s (open loop), plus as many order reads where the role serves reads.`);
