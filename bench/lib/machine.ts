// What a figure was measured on and with: a number without its machine and commit means nothing.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { Redis } from 'ioredis';
import pg from 'pg';
import { local } from './env.js';
import type { Machine } from './results.js';

export async function describeMachine(): Promise<Machine> {
  const cpuModel = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  const db = new pg.Client({ connectionString: local.postgres });
  await db.connect();
  const postgres = (await db.query<{ server_version: string }>('SHOW server_version').finally(() => db.end())).rows[0]!.server_version;
  const redisClient = new Redis(local.redis);
  const info = await redisClient.info('server').finally(() => redisClient.quit());
  const redis = /^redis_version:(\S+)/m.exec(info)?.[1] ?? 'unknown';
  return { cpus: availableParallelism(), cpuModel, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, postgres, redis };
}

export function describeCommit(): { commit: string; dirty: boolean } {
  const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8' }).trim();
  return { commit: git('rev-parse', 'HEAD'), dirty: git('status', '--porcelain', '--untracked-files=no') !== '' };
}
