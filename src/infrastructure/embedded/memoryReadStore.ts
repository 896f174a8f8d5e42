import { setTimeout as sleep } from 'node:timers/promises';
import type { Counters, DocHead, IndexRangeOptions, ReadNamespaces, ReadStore, VersionedDoc, WriteEffects } from '../../ports.js';
import { collectionOf, docHead, ROOT_NAMESPACE } from '../readStoreLayout.js';

/** One namespace's data. Documents are kept as JSON text, as in Redis: callers get copies. */
interface Space {
  docs: Map<string, string>;
  indexes: Map<string, Map<string, number>>;
  counters: Map<string, Counters>;
  checkpoints: Map<string, bigint>;
}

/** Everything a store and its pinned views share, as processes share one Redis. */
interface State {
  spaces: Map<string, Space>;
  active: Map<string, string>;
  fences: Map<string, number>;
  leases: Map<string, { owner: string; until: number }>;
  info: Map<string, Record<string, string>>;
  nextNamespace: number;
}

/** The embedded twin of `RedisReadStore`, for one process. Atomic because nothing awaits mid-write. */
export class MemoryReadStore implements ReadStore {
  readonly namespaces: ReadNamespaces;
  private readonly state: State;
  private readonly pinnedTo: string | undefined;

  constructor(shared?: { state: State; pinned: string }) {
    this.state = shared?.state ?? { spaces: new Map(), active: new Map(), fences: new Map(), leases: new Map(), info: new Map(), nextNamespace: 1 };
    this.pinnedTo = shared?.pinned;
    this.namespaces = this.namespaceOps();
  }

  async get<T>(collection: string, id: string): Promise<VersionedDoc<T> | null> {
    const text = this.space(collection).docs.get(docKey(collection, id));
    return text === undefined ? null : (JSON.parse(text) as VersionedDoc<T>);
  }

  async getMany<T>(collection: string, ids: readonly string[]): Promise<(VersionedDoc<T> | null)[]> {
    return Promise.all(ids.map((id) => this.get<T>(collection, id)));
  }

  async heads(collection: string, ids: readonly string[]): Promise<(DocHead | null)[]> {
    return (await this.getMany(collection, ids)).map((doc) => doc && docHead(doc.version, doc.eventId));
  }

  async apply<T>(collection: string, id: string, expectedVersion: number, doc: VersionedDoc<T>, effects: WriteEffects, expectedEventId?: string): Promise<boolean> {
    if (this.pinnedTo === undefined && this.fenced(collection)) {
      await sleep(10); // as the Redis store does: the caller reads again and retries
      return false;
    }
    const space = this.space(collection);
    const key = docKey(collection, id);
    const stored = space.docs.get(key);
    const before = stored === undefined ? null : (JSON.parse(stored) as VersionedDoc);
    if ((before?.version ?? 0) !== expectedVersion) return false;
    if (expectedEventId !== undefined && (before?.eventId ?? '') !== expectedEventId) return false;
    const { version, eventId, eventAt, projectedAt, data } = doc;
    space.docs.set(key, JSON.stringify({ version, eventId, eventAt, projectedAt, data }));
    for (const change of effects.indexes ?? []) {
      const members = indexOf(space, `${collection}:${change.index}`);
      if ('remove' in change) members.delete(change.member);
      else members.set(change.member, change.score);
    }
    if (effects.counters) {
      const counters = space.counters.get(collection) ?? { values: {}, events: 0, eventAt: null, projectedAt: null };
      for (const [name, delta] of Object.entries(effects.counters)) if (delta !== 0) counters.values[name] = (counters.values[name] ?? 0) + delta;
      counters.events += version - expectedVersion;
      if (counters.eventAt === null || eventAt > counters.eventAt) counters.eventAt = eventAt;
      counters.projectedAt = projectedAt;
      space.counters.set(collection, counters);
    }
    return true;
  }

  async indexRange(index: string, options: IndexRangeOptions = {}): Promise<string[]> {
    return (await this.indexEntries(index, options)).map((entry) => entry.member);
  }

  async indexEntries(index: string, { offset = 0, limit, reverse = false, minScore = -Infinity, maxScore = Infinity }: IndexRangeOptions = {}) {
    // Sorted on read: the embedded mode holds few documents, and this keeps writes trivial.
    const ordered = [...(this.space(collectionOf(index)).indexes.get(index) ?? [])]
      .filter(([, score]) => score >= minScore && score <= maxScore)
      .sort(([memberA, scoreA], [memberB, scoreB]) => scoreA - scoreB || (memberA < memberB ? -1 : memberA > memberB ? 1 : 0))
      .map(([member, score]) => ({ member, score }));
    if (reverse) ordered.reverse();
    return ordered.slice(offset, limit === undefined ? undefined : offset + Math.max(limit, 0));
  }

  async indexCount(index: string): Promise<number> {
    return this.space(collectionOf(index)).indexes.get(index)?.size ?? 0;
  }

  async counters(collection: string): Promise<Counters> {
    return structuredClone(this.space(collection).counters.get(collection) ?? { values: {}, events: 0, eventAt: null, projectedAt: null });
  }

  async getCheckpoint(name: string): Promise<bigint | null> {
    return this.space(collectionOf(name)).checkpoints.get(name) ?? null;
  }

  async setCheckpoint(name: string, position: bigint): Promise<void> {
    const { checkpoints } = this.space(collectionOf(name));
    if ((checkpoints.get(name) ?? -1n) < position) checkpoints.set(name, position);
  }

  async lease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const holder = await this.leaseHolder(name);
    if (holder !== null && holder !== owner) return false;
    this.state.leases.set(name, { owner, until: Date.now() + ttlMs });
    return true;
  }

  async leaseHolder(name: string): Promise<string | null> {
    const lease = this.state.leases.get(name);
    return lease && lease.until > Date.now() ? lease.owner : null;
  }

  async release(name: string, owner: string): Promise<void> {
    if (this.state.leases.get(name)?.owner === owner) this.state.leases.delete(name);
  }

  async setInfo(key: string, fields: Record<string, string>): Promise<void> {
    this.state.info.set(key, { ...this.state.info.get(key), ...fields });
  }

  async getInfo(key: string): Promise<Record<string, string>> {
    return { ...this.state.info.get(key) };
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}

  private namespaceOps(): ReadNamespaces {
    const { state } = this;
    return {
      // Nothing caches the active namespace here: a switch is seen by the next call.
      activeCacheMs: 0,
      active: async (collection) => state.active.get(collection) ?? ROOT_NAMESPACE,
      create: async () => String(state.nextNamespace++),
      pinned: (ns) => new MemoryReadStore({ state, pinned: ns }),
      fence: async (collection, ttlMs) => void state.fences.set(collection, Date.now() + ttlMs),
      switchTo: async (collection, ns) => {
        state.active.set(collection, ns);
        state.fences.delete(collection);
      },
      drop: async (collection, ns) => {
        const space = state.spaces.get(ns);
        if (!space) return;
        for (const key of space.docs.keys()) if (collectionOf(key) === collection) space.docs.delete(key);
        for (const key of space.indexes.keys()) if (collectionOf(key) === collection) space.indexes.delete(key);
        for (const key of space.checkpoints.keys()) if (collectionOf(key) === collection) space.checkpoints.delete(key);
        space.counters.delete(collection);
      },
    };
  }

  private fenced(collection: string): boolean {
    return (this.state.fences.get(collection) ?? 0) > Date.now();
  }

  private space(collection: string): Space {
    const ns = this.pinnedTo ?? this.state.active.get(collection) ?? ROOT_NAMESPACE;
    let space = this.state.spaces.get(ns);
    if (!space) this.state.spaces.set(ns, (space = { docs: new Map(), indexes: new Map(), counters: new Map(), checkpoints: new Map() }));
    return space;
  }
}

function indexOf(space: Space, index: string): Map<string, number> {
  let members = space.indexes.get(index);
  if (!members) space.indexes.set(index, (members = new Map()));
  return members;
}

// The same layout as the Redis keys, so ids containing ':' behave the same in both.
function docKey(collection: string, id: string): string {
  return `${collection}:${id}`;
}
