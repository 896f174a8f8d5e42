import { Redis } from 'ioredis';
import type { ReadStore, VersionedDoc } from '../../ports.js';
import type { IndexHelpers, IndexRangeOptions } from '../readIndex.js';

// The compare and the write run as one script, so no client can write in between. It answers 1 or 0:
// a Lua boolean's reply shape depends on the protocol (ioredis 6 speaks RESP3 by default).
const COMPARE_AND_SET = `
local stored = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if stored ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'eventAt', ARGV[3], 'projectedAt', ARGV[4], 'data', ARGV[5])
return 1
`;

type ScriptedRedis = Redis & {
  compareAndSetDoc(
    key: string,
    expectedVersion: number,
    version: number,
    eventAt: string,
    projectedAt: string,
    data: string,
  ): Promise<number>;
};

export interface RedisReadStoreOptions {
  url: string;
  /** Namespace of every key, so tests and rebuilds never touch each other's documents. */
  prefix?: string;
}

/** Documents are hashes at `<prefix>:doc:<collection>:<id>` with fields version, eventAt, projectedAt, data (JSON). */
export class RedisReadStore implements ReadStore, IndexHelpers {
  private readonly redis: ScriptedRedis;
  private readonly prefix: string;

  constructor({ url, prefix = 'cqrs' }: RedisReadStoreOptions) {
    this.prefix = prefix;
    // ioredis sends the script by EVALSHA and falls back to EVAL on NOSCRIPT (Redis here keeps nothing
    // across restarts). One retry per command: callers (queries, projectors) fail fast and retry on their
    // own terms instead of waiting out ioredis' default of about 70 s while Redis is down.
    this.redis = new Redis(url, {
      maxRetriesPerRequest: 1,
      scripts: { compareAndSetDoc: { numberOfKeys: 1, lua: COMPARE_AND_SET } },
    }) as ScriptedRedis;
    // Every command rejects by itself while Redis is away; the connection's own errors would only repeat it.
    this.redis.on('error', () => {});
  }

  async get<T>(collection: string, id: string): Promise<VersionedDoc<T> | null> {
    return parseDoc<T>(await this.redis.hgetall(this.key('doc', collection, id)));
  }

  async getMany<T>(collection: string, ids: readonly string[]): Promise<(VersionedDoc<T> | null)[]> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.key('doc', collection, id));
    const replies = await pipeline.exec();
    if (!replies) throw new Error('Redis discarded the getMany pipeline');
    return replies.map(([error, hash]) => {
      if (error) throw error;
      return parseDoc<T>(hash as Record<string, string>);
    });
  }

  async compareAndSet<T>(
    collection: string,
    id: string,
    expectedVersion: number,
    doc: VersionedDoc<T>,
  ): Promise<boolean> {
    const written = await this.redis.compareAndSetDoc(
      this.key('doc', collection, id),
      expectedVersion,
      doc.version,
      doc.eventAt,
      doc.projectedAt,
      JSON.stringify(doc.data),
    );
    return written === 1;
  }

  async getCheckpoint(name: string): Promise<bigint | null> {
    const position = await this.redis.get(this.key('checkpoint', name));
    return position === null ? null : BigInt(position);
  }

  async setCheckpoint(name: string, position: bigint): Promise<void> {
    await this.redis.set(this.key('checkpoint', name), position.toString());
  }

  async indexAdd(index: string, member: string, score: number): Promise<void> {
    await this.redis.zadd(this.key('index', index), score, member);
  }

  async indexRange(index: string, { offset = 0, limit, reverse = false }: IndexRangeOptions = {}): Promise<string[]> {
    if (limit !== undefined && limit <= 0) return [];
    const key = this.key('index', index);
    // ioredis 6 types `stop` as string only (`start` may be a number).
    const stop = String(limit === undefined ? -1 : offset + limit - 1);
    return reverse ? this.redis.zrange(key, offset, stop, 'REV') : this.redis.zrange(key, offset, stop);
  }

  async indexCount(index: string): Promise<number> {
    return this.redis.zcard(this.key('index', index));
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    await this.redis.quit();
  }

  private key(kind: 'doc' | 'checkpoint' | 'index', ...parts: string[]): string {
    return [this.prefix, kind, ...parts].join(':');
  }
}

// HGETALL answers {} for a missing key.
function parseDoc<T>({ version, eventAt, projectedAt, data }: Record<string, string>): VersionedDoc<T> | null {
  if (version === undefined || eventAt === undefined || projectedAt === undefined || data === undefined) return null;
  return { version: Number(version), eventAt, projectedAt, data: JSON.parse(data) as T };
}
