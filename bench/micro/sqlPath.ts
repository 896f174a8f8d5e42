// What Prisma costs on the statements of every event's path, beside pg on the same pool: a one-row
// $queryRaw against pool.query (plain and prepared), and an interactive $transaction of three statements
// against BEGIN/three/COMMIT on one pg connection. CPU is this process's, per statement or transaction.
// Why src/infrastructure/postgres/sql.ts exists:
//   npx tsx bench/micro/sqlPath.ts [--n 3000]
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createPrismaClient } from '../../src/infrastructure/postgres/prisma.js';
import { BenchEnv } from '../lib/env.js';

const { values } = parseArgs({ options: { n: { type: 'string', default: '3000' } } });
const n = Number(values.n);
const env = await BenchEnv.create();
const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 4 });
const prisma = createPrismaClient({ url: env.databaseUrl }, pool);
try {
  const time = async (name: string, run: () => Promise<unknown>) => {
    for (let i = 0; i < Math.min(300, n); i++) await run();
    const cpu = process.cpuUsage();
    const started = performance.now();
    for (let i = 0; i < n; i++) await run();
    const used = process.cpuUsage(cpu);
    console.log(`${name.padEnd(28)} ${(((performance.now() - started) / n) * 1000).toFixed(0).padStart(6)} µs wall ${((used.user + used.system) / n).toFixed(0).padStart(6)} µs CPU`);
  };
  const id = 'order-1';
  await time('Prisma $queryRaw', () => prisma.$queryRaw`SELECT ${id}::text AS id, now() AS at`);
  await time('pg pool.query', () => pool.query({ text: 'SELECT $1::text AS id, now() AS at', values: [id] }));
  await time('pg pool.query, prepared', () => pool.query({ name: 'probe', text: 'SELECT $1::text AS id, now() AS at', values: [id] }));
  await time('Prisma $transaction (3)', () =>
    prisma.$transaction(async (tx) => {
      await tx.$queryRaw`SELECT 1`;
      await tx.$queryRaw`SELECT 2`;
      await tx.$queryRaw`SELECT 3`;
    }),
  );
  await time('pg BEGIN, 3, COMMIT', async () => {
    const client = await pool.connect();
    try {
      for (const text of ['BEGIN', 'SELECT 1', 'SELECT 2', 'SELECT 3', 'COMMIT']) await client.query(text);
    } finally {
      client.release();
    }
  });
} finally {
  await prisma.$disconnect();
  await pool.end();
  await env.cleanup();
}
process.exit(0);
