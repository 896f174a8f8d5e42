import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, type Redis } from 'ioredis';
import type { Counters, DocHead, DocWrite, GetOptions, IndexRangeOptions, ReadNamespaces, ReadStore, VersionedDoc, WriteEffects } from '../../ports.js';
import { collectionOf, docHead, ROOT_NAMESPACE, slotGroupOf } from '../readStoreLayout.js';
import { createHash } from 'node:crypto';
import { connectRedis, isCluster, masterConnection, writeAtTurnEnd, type RedisClient, type RedisTarget } from './connection.js';
import { NearCache } from './nearCache.js';
import { APPLY, APPLY_DOC, APPLY_GROUP, CHECK_NAMESPACE, CLEAR_PENDING, COUNTER_META, HEADS, LEASE, RAISE_CHECKPOINT, RELEASE } from './scripts.js';

type ScriptedRedis = RedisClient & {
  applyDoc(numberOfKeys: number, ...keysAndArgs: (string | number)[]): Promise<number>;
  applyDocSlot(doc: string, ...args: (string | number)[]): Promise<[number, string]>;
  applyGroup(numberOfKeys: number, ...keysAndArgs: (string | number)[]): Promise<number>;
  heads(numberOfKeys: number, ...keys: string[]): Promise<string[]>;
  checkNamespace(active: string, fence: string, ns: string): Promise<number>;
  clearPending(doc: string, pending: string): Promise<number>;
  raiseCheckpoint(key: string, position: string): Promise<number>;
  takeLease(key: string, owner: string, ttlMs: number): Promise<number>;
  releaseLease(key: string, owner: string): Promise<number>;
};

const APPLY_GROUP_SHA = createHash('sha1').update(APPLY_GROUP).digest('hex');
/** How long a cluster write waits for a replica to hold its effects before leaving them pending. */
const REPLICA_WAIT_MS = 100;
/** How long a process keeps using the active namespace it looked up: one read of it per collection per second, not per write. */
const ACTIVE_NAMESPACE_CACHE_MS = 1000;
/** A read completes effects left pending this long after their write: the writer is gone. */
const ABANDONED_PENDING_MS = 2000;

/** Effects of a cluster write still to complete, kept in the document (see scripts.ts). */
interface PendingEffects {
  ns: string;
  /** Check the namespace (a live writer) or not (a rebuild's pinned store). */
  check: boolean;
  version: number;
  events: number;
  eventAt: string;
  projectedAt: string;
  indexes: ([op: '+', index: string, member: string, score: number] | [op: '-', index: string, member: string])[];
  counters: [string, number][] | null;
}

export interface RedisReadStoreOptions {
  /** One server's URL, or the seed nodes of a Redis Cluster. */
  url: RedisTarget;
  /** Namespace of every key, so tests and deployments never touch each other's documents. */
  prefix?: string;
  /**
   * Documents a query process keeps in memory (`READ_CACHE_ENTRIES`; 0 or absent: none), served to reads
   * that ask for it (`GetOptions.cachedFrom`) while Redis tracks them for this process (nearCache.ts). One server only.
   */
  nearCacheEntries?: number;
  /** Told when the near cache could not set up its tracking. */
  onError?: (error: unknown) => void;
}

/**
 * Key layout (one server), `<p>` being the prefix and `<b>` a namespace's base (`<p>` for the root, `<p>:ns:<n>` after a rebuild):
 * documents are hashes `<b>:doc:<collection>:<id>` (version, eventAt, projectedAt, data as JSON); sorted
 * indexes `<b>:index:<collection>:<name>`; counters a hash `<b>:counters:<collection>`; checkpoints
 * `<b>:checkpoint:<name>`. Outside namespaces: `<p>:active:<collection>` (the active namespace),
 * `<p>:fence:<collection>`, `<p>:nsseq`, `<p>:lease:<name>`, `<p>:info:<key>`.
 *
 * On a Redis Cluster the same names carry hash tags, so each script touches one slot and load spreads:
 * a document sits in its own slot (`<b>:doc:<collection>:{<id>}`); an owner's indexes share the owner's
 * (`<b>:index:{<collection>:user:<u>}:status:PAID`); the collection's other indexes, its counters, its
 * namespace keys and the `seen` hash of each slot group sit in the collection's slot (`{<collection>}`),
 * the one hot slot every write of that collection touches (docs/operations.md, "Scaling out", measures it).
 */
export class RedisReadStore implements ReadStore {
  readonly namespaces: ReadNamespaces;
  private readonly redis: ScriptedRedis;
  private readonly cluster: boolean;
  private readonly prefix: string;
  /** Set for a store bound to one namespace (a rebuild's); otherwise each collection's active one. */
  private readonly pinnedTo: string | undefined;
  private readonly owned: boolean;
  private readonly activeCache = new Map<string, { ns: string; at: number }>();
  /** Documents queries read, kept while Redis tracks them (undefined: off, or on a cluster). */
  readonly near: NearCache | undefined;

  constructor({ url, prefix = 'cqrs', nearCacheEntries = 0, onError }: RedisReadStoreOptions, shared?: { redis: ScriptedRedis; pinned: string }) {
    this.prefix = prefix;
    this.pinnedTo = shared?.pinned;
    this.owned = !shared;
    this.cluster = isCluster(url);
    if (this.cluster && /[{}]/.test(prefix)) throw new Error('REDIS_PREFIX may not contain { or } on a Redis Cluster: they would choose the hash slot');
    // ioredis sends scripts by EVALSHA and falls back to EVAL on NOSCRIPT (Redis here keeps nothing
    // across restarts). One retry per command: callers (queries, projectors) fail fast and retry on their
    // own terms instead of waiting out ioredis' default of about 70 s while Redis is down.
    this.redis =
      shared?.redis ??
      (connectRedis(url, {
        maxRetriesPerRequest: 1,
        // A command waiting for Redis (in the offline queue while it reconnects, or on a silent socket)
        // fails after this long: reads answer SERVICE_UNAVAILABLE within the contract's 2 s.
        commandTimeout: 1500,
        scripts: {
          applyDoc: { lua: APPLY },
          applyDocSlot: { numberOfKeys: 1, lua: APPLY_DOC },
          applyGroup: { lua: APPLY_GROUP },
          heads: { lua: HEADS },
          checkNamespace: { numberOfKeys: 2, lua: CHECK_NAMESPACE },
          clearPending: { numberOfKeys: 1, lua: CLEAR_PENDING },
          raiseCheckpoint: { numberOfKeys: 1, lua: RAISE_CHECKPOINT },
          takeLease: { numberOfKeys: 1, lua: LEASE },
          releaseLease: { numberOfKeys: 1, lua: RELEASE },
        },
      }) as ScriptedRedis);
    // Every command rejects by itself while Redis is away; the connection's own errors would only repeat it.
    if (!shared) this.redis.on('error', () => {});
    this.namespaces = this.namespaceOps(url);
    // Tracking prefixes and a subscribed connection per node are a cluster's own matter: not there.
    if (!shared && !isCluster(url) && nearCacheEntries > 0) this.near = new NearCache({ url, maxEntries: nearCacheEntries, ...(onError ? { onError } : {}) });
  }

  async get<T>(collection: string, id: string, options?: GetOptions): Promise<VersionedDoc<T> | null> {
    if (this.near && options?.cachedFrom !== undefined) {
      const prefix = await this.docPrefix(collection);
      const key = prefix + id;
      return this.near.read(key, prefix, options.cachedFrom, () => this.getKey<T>(key));
    }
    return this.getKey<T>(await this.docKey(collection, id));
  }

  /** Has the near cache track the collection's documents now, rather than at its first read. */
  async trackReads(collection: string): Promise<void> {
    if (this.near) this.near.want(await this.docPrefix(collection));
  }

  /** What the collection's document keys in its active namespace start with (one server: no hash tag). */
  private async docPrefix(collection: string): Promise<string> {
    return this.keys.doc(await this.base(collection), collection, '');
  }

  private async getKey<T>(key: string): Promise<VersionedDoc<T> | null> {
    writeAtTurnEnd(this.redis);
    const hash = await this.redis.hgetall(key);
    // A cluster write interrupted between its steps (its writer gone for a while): complete its effects.
    if (hash.pending && Date.now() - Date.parse(hash.projectedAt ?? '') > ABANDONED_PENDING_MS)
      await this.completePending(key, hash.pending, 'force').catch(() => undefined);
    return parseDoc<T>(hash);
  }

  async getMany<T>(collection: string, ids: readonly string[]): Promise<(VersionedDoc<T> | null)[]> {
    if (ids.length === 0) return [];
    if (this.cluster) return Promise.all(ids.map((id) => this.get<T>(collection, id)));
    const base = await this.base(collection);
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.keys.doc(base, collection, id));
    writeAtTurnEnd(this.redis);
    const replies = await pipeline.exec();
    if (!replies) throw new Error('Redis discarded the getMany pipeline');
    return replies.map(([error, hash]) => {
      if (error) throw error;
      return parseDoc<T>(hash as Record<string, string>);
    });
  }

  async heads(collection: string, ids: readonly string[]): Promise<(DocHead | null)[]> {
    if (ids.length === 0) return [];
    // On a cluster a read also completes a write interrupted between its steps: keep that path there.
    if (this.cluster) return (await this.getMany(collection, ids)).map((doc) => doc && docHead(doc.version, doc.eventId));
    const base = await this.base(collection);
    const reply = await this.redis.heads(ids.length, ...ids.map((id) => this.keys.doc(base, collection, id)));
    return ids.map((_, i) => {
      const version = reply[2 * i];
      const eventId = reply[2 * i + 1];
      return version ? docHead(Number(version), eventId) : null;
    });
  }

  async apply<T>(collection: string, id: string, expectedVersion: number, doc: VersionedDoc<T>, effects: WriteEffects, expectedEventId?: string): Promise<boolean> {
    const ns = await this.namespaceOf(collection);
    const result = this.cluster
      ? await this.applySplit(collection, id, ns, expectedVersion, doc, effects, expectedEventId)
      : await this.applyAtomic(collection, id, ns, expectedVersion, doc, effects, expectedEventId);
    if (result === -1) {
      // Switched or fenced by a rebuild: look up the active namespace again, after a pause while fenced.
      this.activeCache.delete(collection);
      await sleep(10);
    }
    return result === 1;
  }

  /**
   * Many `apply` calls in pipelines (a rebuild's flush): one round trip per 500 documents instead of one
   * per document. Each document is still its own atomic compare-and-set; answers one outcome each. On a
   * cluster each write is its own single-slot steps (see applySplit), sixteen at a time.
   */
  async applyMany<T>(collection: string, writes: readonly DocWrite<T>[]): Promise<boolean[]> {
    const outcomes: boolean[] = new Array(writes.length);
    let next = 0;
    if (this.cluster) {
      const worker = async () => {
        for (let at = next++; at < writes.length; at = next++) {
          const { id, expectedVersion, doc, effects } = writes[at]!;
          outcomes[at] = await this.apply(collection, id, expectedVersion, doc, effects);
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
      return outcomes;
    }
    const ns = await this.namespaceOf(collection);
    // Pipelines of 500, four in flight: Redis runs them back to back with no round trip between, and
    // none waits long enough behind the others to reach the command timeout.
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

  /** One server: the document, its indexes and counters in one script. */
  private async applyAtomic<T>(collection: string, id: string, ns: string, expectedVersion: number, doc: VersionedDoc<T>, effects: WriteEffects, expectedEventId?: string): Promise<number> {
    const { keys, args } = this.applyCall(ns, collection, { id, expectedVersion, doc, effects }, expectedEventId);
    return this.redis.applyDoc(keys.length, ...keys, ...args);
  }

  private applyCall<T>(ns: string, collection: string, { id, expectedVersion, doc, effects }: DocWrite<T>, expectedEventId?: string) {
    const base = this.baseOf(ns);
    const indexes = effects.indexes ?? [];
    const counters = Object.entries(effects.counters ?? {}).filter(([, delta]) => delta !== 0);
    const keys = [
      this.keys.doc(base, collection, id),
      this.keys.active(collection),
      this.keys.fence(collection),
      this.keys.counters(base, collection),
      ...indexes.map((change) => this.keys.index(base, `${collection}:${change.index}`)),
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
      expectedEventId === undefined ? '' : `=${expectedEventId}`,
      ...indexes.flatMap((change) => ('remove' in change ? ['-', change.member, 0] : ['+', change.member, change.score])),
      ...counters.flat(),
    ];
    return { keys, args };
  }

  /** A cluster: the document's slot first, then each slot its effects touch (see scripts.ts). */
  private async applySplit<T>(collection: string, id: string, ns: string, expectedVersion: number, doc: VersionedDoc<T>, effects: WriteEffects, expectedEventId?: string): Promise<number> {
    const key = this.keys.doc(this.baseOf(ns), collection, id);
    const indexes = effects.indexes ?? [];
    const check = this.pinnedTo === undefined;
    const pending: PendingEffects | null =
      indexes.length > 0 || effects.counters
        ? {
            ns,
            check,
            version: doc.version,
            events: doc.version - expectedVersion,
            eventAt: doc.eventAt,
            projectedAt: doc.projectedAt,
            indexes: indexes.map((change) => ('remove' in change ? ['-', `${collection}:${change.index}`, change.member] : ['+', `${collection}:${change.index}`, change.member, change.score])),
            counters: effects.counters ? Object.entries(effects.counters).filter(([, delta]) => delta !== 0) : null,
          }
        : null;
    const text = pending ? JSON.stringify(pending) : '';
    for (;;) {
      const [written, earlier] = await this.redis.applyDocSlot(
        key,
        expectedVersion,
        doc.version,
        doc.eventAt,
        doc.projectedAt,
        JSON.stringify(doc.data),
        doc.eventId ?? '',
        text,
        expectedEventId === undefined ? '' : `=${expectedEventId}`,
      );
      if (written === -2) {
        if ((await this.completePending(key, earlier, 'force')) === -1) return -1;
        continue;
      }
      if (written !== 1) return written;
      if (pending) return this.completePending(key, text, 'replicated');
      return check ? this.redis.checkNamespace(this.keys.active(collection), this.keys.fence(collection), ns) : 1;
    }
  }

  /**
   * Applies recorded effects in every slot group they touch, then clears them; -1 when the namespace moved.
   * `replicated`: clears them only once each group's master has passed them to a replica (WAIT), so a
   * failover cannot lose effects the document no longer remembers; otherwise they stay pending and the
   * document's next write completes them again (`force`: clear after applying, as a second attempt).
   */
  private async completePending(docKey: string, text: string, mode: 'replicated' | 'force'): Promise<number> {
    const pending = JSON.parse(text) as PendingEffects;
    const [collection, id] = this.docOf(docKey);
    const base = this.baseOf(pending.ns);
    const groups = new Map<string, PendingEffects['indexes']>([[collection, []]]);
    for (const change of pending.indexes) {
      const group = slotGroupOf(change[1]);
      groups.set(group, [...(groups.get(group) ?? []), change]);
    }
    const results = await Promise.all(
      [...groups].map(([group, changes]) => {
        const shared = group === collection;
        if (shared && changes.length === 0 && !pending.counters && !pending.check) return 1;
        const seen = this.keys.seen(base, group);
        const keys = [seen, shared ? this.keys.active(collection) : seen, shared ? this.keys.fence(collection) : seen, shared ? this.keys.counters(base, collection) : seen, ...changes.map((change) => this.keys.index(base, change[1]))];
        const args = [
          id,
          pending.version,
          shared && pending.check ? 1 : 0,
          pending.ns,
          changes.length,
          ...changes.flatMap((change) => (change[0] === '-' ? ['-', change[2], 0] : ['+', change[2], change[3]])),
          ...(shared && pending.counters ? [1, pending.events, pending.eventAt, pending.projectedAt, ...pending.counters.flat()] : [0]),
        ];
        return mode === 'replicated' ? this.applyGroupReplicated(keys, args) : this.redis.applyGroup(keys.length, ...keys, ...args).then((result) => [result, true] as const);
      }),
    );
    if (results.some((result) => (typeof result === 'number' ? result : result[0]) === -1)) return -1;
    if (results.every((result) => typeof result === 'number' || result[1])) await this.redis.clearPending(docKey, text);
    return 1;
  }

  /** APPLY_GROUP on the master of its slot, then WAIT for one replica; through the cluster client if that fails. */
  private async applyGroupReplicated(keys: string[], args: (string | number)[]): Promise<readonly [number, boolean]> {
    const node = this.redis instanceof Cluster ? masterConnection(this.redis, keys[0]!) : null;
    if (node) {
      try {
        const result = Number(await node.evalsha(APPLY_GROUP_SHA, keys.length, ...keys, ...args).catch((error: unknown) => {
          if (error instanceof Error && error.message.startsWith('NOSCRIPT')) return node.eval(APPLY_GROUP, keys.length, ...keys, ...args);
          throw error;
        }));
        return [result, Number(await node.call('WAIT', 1, REPLICA_WAIT_MS)) >= 1] as const;
      } catch {
        // Moved, or failing over: the cluster client follows redirections; `seen` makes the repeat harmless.
      }
    }
    return [await this.redis.applyGroup(keys.length, ...keys, ...args), false] as const;
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
    writeAtTurnEnd(this.redis);
    const reply = reverse
      ? await this.redis.zrange(key, high, low, 'BYSCORE', 'REV', 'LIMIT', offset, count, 'WITHSCORES')
      : await this.redis.zrange(key, low, high, 'BYSCORE', 'LIMIT', offset, count, 'WITHSCORES');
    return scoredMembers(reply as unknown[]);
  }

  async indexCount(index: string): Promise<number> {
    const key = await this.indexKey(index);
    writeAtTurnEnd(this.redis);
    return this.redis.zcard(key);
  }

  async counters(collection: string): Promise<Counters> {
    const key = this.keys.counters(await this.base(collection), collection);
    writeAtTurnEnd(this.redis);
    const hash = await this.redis.hgetall(key);
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
    await this.near?.close();
    if (this.owned) await this.redis.quit();
  }

  /** Key names; on a cluster the part in braces chooses the slot (see the class comment). */
  private readonly keys = {
    tag: (text: string) => (this.cluster ? `{${text}}` : text),
    doc: (base: string, collection: string, id: string) => `${base}:doc:${collection}:${this.keys.tag(id)}`,
    index: (base: string, index: string) => {
      const group = slotGroupOf(index);
      return `${base}:index:${this.keys.tag(group)}${index.slice(group.length)}`;
    },
    counters: (base: string, collection: string) => `${base}:counters:${this.keys.tag(collection)}`,
    seen: (base: string, group: string) => `${base}:seen:{${group}}`,
    active: (collection: string) => `${this.prefix}:active:${this.keys.tag(collection)}`,
    fence: (collection: string) => `${this.prefix}:fence:${this.keys.tag(collection)}`,
  };

  /** The collection and id of a cluster document key (`<b>:doc:<collection>:{<id>}`). */
  private docOf(key: string): [string, string] {
    const open = key.lastIndexOf(':{');
    const head = key.slice(0, open);
    return [head.slice(head.lastIndexOf(':doc:') + 5), key.slice(open + 2, -1)];
  }

  /** Every master of a cluster (a scan sees one node's keys), or the one server. */
  private scanTargets(): Redis[] {
    return this.redis instanceof Cluster ? this.redis.nodes('master') : [this.redis];
  }

  private namespaceOps(url: RedisTarget): ReadNamespaces {
    const root = this.prefix;
    return {
      activeCacheMs: ACTIVE_NAMESPACE_CACHE_MS,
      active: async (collection) => (await this.redis.get(this.keys.active(collection))) ?? ROOT_NAMESPACE,
      create: async () => String(await this.redis.incr(`${root}:nsseq`)),
      pinned: (ns) => new RedisReadStore({ url, prefix: root }, { redis: this.redis, pinned: ns }),
      fence: async (collection, ttlMs) => {
        await this.redis.set(this.keys.fence(collection), '1', 'PX', ttlMs);
      },
      switchTo: async (collection, ns) => {
        await this.redis.multi().set(this.keys.active(collection), ns).del(this.keys.fence(collection)).exec();
        this.activeCache.delete(collection);
      },
      drop: async (collection, ns) => {
        const base = this.baseOf(ns);
        const patterns = this.cluster
          ? [`${base}:doc:${collection}:{*`, `${base}:index:{${collection}}*`, `${base}:index:{${collection}:*`, `${base}:seen:{${collection}}`, `${base}:seen:{${collection}:*`, `${base}:checkpoint:${collection}*`]
          : [`${base}:doc:${collection}:*`, `${base}:index:${collection}:*`, `${base}:checkpoint:${collection}*`];
        for (const node of this.scanTargets()) {
          for (const match of patterns) {
            for await (const keys of node.scanStream({ match, count: 1000 })) {
              // One key per UNLINK on a cluster: the keys of one scan page sit in many slots.
              if (this.cluster) await Promise.all((keys as string[]).map((key) => this.redis.unlink(key)));
              else if ((keys as string[]).length > 0) await this.redis.unlink(...(keys as string[]));
            }
          }
        }
        await this.redis.unlink(this.keys.counters(base, collection));
      },
    };
  }

  private async namespaceOf(collection: string): Promise<string> {
    if (this.pinnedTo !== undefined) return this.pinnedTo;
    const cached = this.activeCache.get(collection);
    if (cached && Date.now() - cached.at < ACTIVE_NAMESPACE_CACHE_MS) return cached.ns;
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
    return this.keys.doc(await this.base(collection), collection, id);
  }

  private async indexKey(index: string): Promise<string> {
    return this.keys.index(await this.base(collectionOf(index)), index);
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
