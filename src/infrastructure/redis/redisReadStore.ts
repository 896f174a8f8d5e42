import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { Counters, DocWrite, IndexRangeOptions, ReadNamespaces, ReadStore, VersionedDoc, WriteEffects } from '../../ports.js';
import { ACTIVE_NAMESPACE_TTL_MS, collectionOf, type IndexHelpers, ROOT_NAMESPACE } from '../readIndex.js';
import { APPLY, COUNTER_META, LEASE, RAISE_CHECKPOINT, RELEASE } from './scripts.js';

type ScriptedRedis = Redis & {
  applyDoc(numberOfKeys: number, ...keysAndArgs: (string | number)[]): Promise<number>;
  raiseCheckpoint(key: string, position: string): Promise<number>;
  takeLease(key: string, owner: string, ttlMs: number): Promise<number>;
  releaseLease(key: string, owner: string): Promise<number>;
};

export interface RedisReadStoreOptions {
  url: string;
  /** Namespace of every key, so tests and deployments never touch each other's documents. */
  prefix?: string;
}

/**
 * Key layout, `<p>` being the prefix and `<b>` a namespace's base (`<p>` for the root, `<p>:ns:<n>` after a rebuild):
 * documents are hashes `<b>:doc:<collection>:<id>` (version, eventAt, projectedAt, data as JSON); sorted
 * indexes `<b>:index:<collection>:<name>`; counters a hash `<b>:counters:<collection>`; checkpoints
 * `<b>:checkpoint:<name>`. Outside namespaces: `<p>:active:<collection>` (the active namespace),
 * `<p>:fence:<collection>`, `<p>:nsseq`, `<p>:lease:<name>`, `<p>:info:<key>`.
 */
export class RedisReadStore implements ReadStore, IndexHelpers {
  readonly namespaces: ReadNamespaces;
  private readonly redis: ScriptedRedis;
  private readonly prefix: string;
  /** Set for a store bound to one namespace (a rebuild's); otherwise each collection's active one. */
  private readonly pinnedTo: string | undefined;
  private readonly owned: boolean;
  private readonly activeCache = new Map<string, { ns: string; at: number }>();

  constructor({ url, prefix = 'cqrs' }: RedisReadStoreOptions, shared?: { redis: ScriptedRedis; pinned: string }) {
    this.prefix = prefix;
    this.pinnedTo = shared?.pinned;
    this.owned = !shared;
    // ioredis sends scripts by EVALSHA and falls back to EVAL on NOSCRIPT (Redis here keeps nothing
    // across restarts). One retry per command: callers (queries, projectors) fail fast and retry on their
    // own terms instead of waiting out ioredis' default of about 70 s while Redis is down.
    this.redis =
      shared?.redis ??
      (new Redis(url, {
        maxRetriesPerRequest: 1,
        // A command waiting for Redis (in the offline queue while it reconnects, or on a silent socket)
        // fails after this long: reads answer SERVICE_UNAVAILABLE within the contract's 2 s.
        commandTimeout: 1500,
        scripts: {
          applyDoc: { lua: APPLY },
          raiseCheckpoint: { numberOfKeys: 1, lua: RAISE_CHECKPOINT },
          takeLease: { numberOfKeys: 1, lua: LEASE },
          releaseLease: { numberOfKeys: 1, lua: RELEASE },
        },
      }) as ScriptedRedis);
    // Every command rejects by itself while Redis is away; the connection's own errors would only repeat it.
    if (!shared) this.redis.on('error', () => {});
    this.namespaces = this.namespaceOps(url);
  }

  async get<T>(collection: string, id: string): Promise<VersionedDoc<T> | null> {
    return parseDoc<T>(await this.redis.hgetall(await this.docKey(collection, id)));
  }

  async getMany<T>(collection: string, ids: readonly string[]): Promise<(VersionedDoc<T> | null)[]> {
    if (ids.length === 0) return [];
    const base = await this.base(collection);
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(`${base}:doc:${collection}:${id}`);
    const replies = await pipeline.exec();
    if (!replies) throw new Error('Redis discarded the getMany pipeline');
    return replies.map(([error, hash]) => {
      if (error) throw error;
      return parseDoc<T>(hash as Record<string, string>);
    });
  }

  compareAndSet<T>(collection: string, id: string, expectedVersion: number, doc: VersionedDoc<T>): Promise<boolean> {
    return this.apply(collection, id, expectedVersion, doc, {});
  }

  async apply<T>(collection: string, id: string, expectedVersion: number, doc: VersionedDoc<T>, effects: WriteEffects): Promise<boolean> {
    const ns = await this.namespaceOf(collection);
    const { keys, args } = this.applyCall(ns, collection, { id, expectedVersion, doc, effects });
    const result = await this.redis.applyDoc(keys.length, ...keys, ...args);
    if (result === -1) {
      // Switched or fenced by a rebuild: look up the active namespace again, after a pause while fenced.
      this.activeCache.delete(collection);
      await sleep(10);
    }
    return result === 1;
  }

  /**
   * Many `apply` calls in pipelines (a rebuild's flush): one round trip per thousand documents instead of
   * one per document. Each document is still its own atomic compare-and-set; answers one outcome each.
   */
  async applyMany<T>(collection: string, writes: readonly DocWrite<T>[]): Promise<boolean[]> {
    const ns = await this.namespaceOf(collection);
    const outcomes: boolean[] = new Array(writes.length);
    // Pipelines of 500, four in flight: Redis runs them back to back with no round trip between, and
    // none waits long enough behind the others to reach the command timeout.
    let next = 0;
    const lane = async () => {
      for (let first = next; first < writes.length; first = next) {
        next += 500;
        const pipeline = this.redis.pipeline() as unknown as { applyDoc(...args: (string | number)[]): void; exec(): Promise<[Error | null, unknown][] | null> };
        for (const write of writes.slice(first, first + 500)) {
          const { keys, args } = this.applyCall(ns, collection, write);
          pipeline.applyDoc(keys.length, ...keys, ...args);
        }
        const replies = await pipeline.exec();
        if (!replies) throw new Error('Redis discarded the applyMany pipeline');
        for (const [i, [error, result]] of replies.entries()) {
          if (error) throw error;
          if (result === -1) this.activeCache.delete(collection); // switched or fenced: look the namespace up again
          outcomes[first + i] = result === 1;
        }
      }
    };
    await Promise.all([lane(), lane(), lane(), lane()]);
    return outcomes;
  }

  private applyCall<T>(ns: string, collection: string, { id, expectedVersion, doc, effects }: DocWrite<T>) {
    const base = this.baseOf(ns);
    const indexes = effects.indexes ?? [];
    const counters = Object.entries(effects.counters ?? {}).filter(([, delta]) => delta !== 0);
    const keys = [
      `${base}:doc:${collection}:${id}`,
      `${this.prefix}:active:${collection}`,
      `${this.prefix}:fence:${collection}`,
      `${base}:counters:${collection}`,
      ...indexes.map((change) => `${base}:index:${collection}:${change.index}`),
    ];
    const args = [
      expectedVersion,
      this.pinnedTo === undefined ? 1 : 0,
      ns,
      doc.version,
      doc.eventAt,
      doc.projectedAt,
      JSON.stringify(doc.data),
      effects.counters ? 1 : 0,
      doc.eventId ?? '',
      indexes.length,
      ...indexes.flatMap((change) => ('remove' in change ? ['-', change.member, 0] : ['+', change.member, change.score])),
      ...counters.flat(),
    ];
    return { keys, args };
  }

  async indexAdd(index: string, member: string, score: number): Promise<void> {
    await this.redis.zadd(await this.indexKey(index), score, member);
  }

  async indexRange(index: string, options: IndexRangeOptions = {}): Promise<string[]> {
    return (await this.indexEntries(index, options)).map((entry) => entry.member);
  }

  async indexEntries(index: string, { offset = 0, limit, reverse = false, minScore, maxScore }: IndexRangeOptions = {}) {
    if (limit !== undefined && limit <= 0) return [];
    const key = await this.indexKey(index);
    const low = minScore === undefined ? '-inf' : String(minScore);
    const high = maxScore === undefined ? '+inf' : String(maxScore);
    const count = limit === undefined ? -1 : limit;
    const reply = reverse
      ? await this.redis.zrange(key, high, low, 'BYSCORE', 'REV', 'LIMIT', offset, count, 'WITHSCORES')
      : await this.redis.zrange(key, low, high, 'BYSCORE', 'LIMIT', offset, count, 'WITHSCORES');
    return scoredMembers(reply as unknown[]);
  }

  async indexCount(index: string): Promise<number> {
    return this.redis.zcard(await this.indexKey(index));
  }

  async counters(collection: string): Promise<Counters> {
    const hash = await this.redis.hgetall(`${await this.base(collection)}:counters:${collection}`);
    const values: Record<string, number> = {};
    for (const [name, value] of Object.entries(hash)) if (!name.startsWith('$')) values[name] = Number(value);
    return {
      values,
      events: Number(hash[COUNTER_META.events] ?? 0),
      eventAt: hash[COUNTER_META.eventAt] ?? null,
      projectedAt: hash[COUNTER_META.projectedAt] ?? null,
    };
  }

  async getCheckpoint(name: string): Promise<bigint | null> {
    const position = await this.redis.get(await this.checkpointKey(name));
    return position === null ? null : BigInt(position);
  }

  async setCheckpoint(name: string, position: bigint): Promise<void> {
    await this.redis.raiseCheckpoint(await this.checkpointKey(name), position.toString());
  }

  async lease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.takeLease(`${this.prefix}:lease:${name}`, owner, ttlMs)) === 1;
  }

  async leaseHolder(name: string): Promise<string | null> {
    return this.redis.get(`${this.prefix}:lease:${name}`);
  }

  async release(name: string, owner: string): Promise<void> {
    await this.redis.releaseLease(`${this.prefix}:lease:${name}`, owner);
  }

  async setInfo(key: string, fields: Record<string, string>): Promise<void> {
    await this.redis.hset(`${this.prefix}:info:${key}`, fields);
  }

  async getInfo(key: string): Promise<Record<string, string>> {
    return this.redis.hgetall(`${this.prefix}:info:${key}`);
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    if (this.owned) await this.redis.quit();
  }

  private namespaceOps(url: string): ReadNamespaces {
    const root = this.prefix;
    return {
      active: async (collection) => (await this.redis.get(`${root}:active:${collection}`)) ?? ROOT_NAMESPACE,
      create: async () => String(await this.redis.incr(`${root}:nsseq`)),
      pinned: (ns) => new RedisReadStore({ url, prefix: root }, { redis: this.redis, pinned: ns }),
      fence: async (collection, ttlMs) => {
        await this.redis.set(`${root}:fence:${collection}`, '1', 'PX', ttlMs);
      },
      switchTo: async (collection, ns) => {
        await this.redis.multi().set(`${root}:active:${collection}`, ns).del(`${root}:fence:${collection}`).exec();
        this.activeCache.delete(collection);
      },
      drop: async (collection, ns) => {
        const base = this.baseOf(ns);
        for (const match of [`${base}:doc:${collection}:*`, `${base}:index:${collection}:*`, `${base}:checkpoint:${collection}*`]) {
          for await (const keys of this.redis.scanStream({ match, count: 1000 })) {
            if ((keys as string[]).length > 0) await this.redis.unlink(...(keys as string[]));
          }
        }
        await this.redis.unlink(`${base}:counters:${collection}`);
      },
    };
  }

  private async namespaceOf(collection: string): Promise<string> {
    if (this.pinnedTo !== undefined) return this.pinnedTo;
    const cached = this.activeCache.get(collection);
    if (cached && Date.now() - cached.at < ACTIVE_NAMESPACE_TTL_MS) return cached.ns;
    const ns = await this.namespaces.active(collection);
    this.activeCache.set(collection, { ns, at: Date.now() });
    return ns;
  }

  private baseOf(ns: string): string {
    return ns === ROOT_NAMESPACE ? this.prefix : `${this.prefix}:ns:${ns}`;
  }

  private async base(collection: string): Promise<string> {
    return this.baseOf(await this.namespaceOf(collection));
  }

  private async docKey(collection: string, id: string): Promise<string> {
    return `${await this.base(collection)}:doc:${collection}:${id}`;
  }

  private async indexKey(index: string): Promise<string> {
    return `${await this.base(collectionOf(index))}:index:${index}`;
  }

  private async checkpointKey(name: string): Promise<string> {
    return `${await this.base(collectionOf(name))}:checkpoint:${name}`;
  }
}

// HGETALL answers {} for a missing key.
function parseDoc<T>({ version, eventId, eventAt, projectedAt, data }: Record<string, string>): VersionedDoc<T> | null {
  if (version === undefined || eventAt === undefined || projectedAt === undefined || data === undefined) return null;
  return { version: Number(version), ...(eventId ? { eventId } : {}), eventAt, projectedAt, data: JSON.parse(data) as T };
}

// WITHSCORES answers [member, score] pairs over RESP3 (ioredis 6's default) and a flat list over RESP2.
function scoredMembers(reply: unknown[]): { member: string; score: number }[] {
  if (reply.length > 0 && Array.isArray(reply[0])) return (reply as [string, string | number][]).map(([member, score]) => ({ member, score: Number(score) }));
  const entries: { member: string; score: number }[] = [];
  for (let i = 0; i < reply.length; i += 2) entries.push({ member: String(reply[i]), score: Number(reply[i + 1]) });
  return entries;
}
