// npm run events -- archive --before <ISO date> [--dry-run] [--batch <streams>]
// Moves the streams of orders delivered or cancelled before the date from `events` to `events_archive`
// (docs/architecture.md, "Write side"), on DATABASE_URL, or on the embedded PGlite under DATA_DIR when none is set.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { type ArchiveProgress, archiveFinishedStreams } from '../src/infrastructure/postgres/archive.js';
import { createPrismaClient } from '../src/infrastructure/postgres/prisma.js';

const usage = 'usage: npm run events -- archive --before <ISO date, e.g. 2026-01-01 or 2026-01-01T00:00:00Z> [--dry-run] [--batch <streams>]';

function fail(message: string): never {
  console.error(`${message}\n${usage}`);
  process.exit(2);
}

let args: ReturnType<typeof parse>;
const parse = () =>
  parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: { before: { type: 'string' }, 'dry-run': { type: 'boolean', default: false }, batch: { type: 'string', default: '500' } },
  });
try {
  args = parse();
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
const [command, ...extra] = args.positionals;
if (command !== 'archive' || extra.length > 0) fail(command ? `unknown command ${[command, ...extra].join(' ')}` : 'no command given');
if (!args.values.before || !/^\d{4}-\d{2}-\d{2}/.test(args.values.before) || Number.isNaN(Date.parse(args.values.before)))
  fail('--before needs an ISO date');
const batchSize = Number(args.values.batch);
if (!Number.isInteger(batchSize) || batchSize < 1) fail('--batch needs a positive whole number of streams');
const before = new Date(args.values.before);
const dryRun = args.values['dry-run'];

const url = process.env.DATABASE_URL;
const dataDir = path.join(process.env.DATA_DIR ?? './.data', 'pglite');
const where = url ? `database ${new URL(url).pathname.slice(1)}` : dataDir;
const pglite = url ? null : await PGlite.create(dataDir);
const prisma = createPrismaClient(url ? { url } : { pglite: pglite! });

const number = (value: number) => Math.round(value).toLocaleString('en-US');
const line = (p: ArchiveProgress) =>
  `${number(p.streams)} streams, ${number(p.events)} events (${number(p.eventsPerSecond)} events/s); ` +
  `${number(p.skipped)} skipped with unpublished outbox rows`;

console.log(`${dryRun ? 'dry run: counting' : 'archiving'} orders delivered or cancelled before ${before.toISOString()} in ${where}`);
try {
  const summary = await archiveFinishedStreams(prisma, {
    before,
    dryRun,
    batchSize,
    onProgress: (progress) => console.log(`  batch ${progress.batch}: ${line(progress)}`),
  });
  console.log(`${dryRun ? 'would archive' : 'archived'} ${line(summary)} in ${(summary.elapsedMs / 1000).toFixed(1)} s`);
} catch (error) {
  console.error(`archiving failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await prisma.$disconnect();
  await pglite?.close();
}
