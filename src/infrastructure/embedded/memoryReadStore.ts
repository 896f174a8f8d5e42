import type { ReadStore, VersionedDoc } from '../../ports.js';
import type { IndexHelpers, IndexRangeOptions } from '../readIndex.js';

/** The embedded twin of `RedisReadStore`, for one process. */
export class MemoryReadStore implements ReadStore, IndexHelpers {
  // Kept as JSON text, as in Redis: callers get copies, and data comes back in the shapes Redis would give.
  private readonly docs = new Map<string, string>();
  private readonly checkpoints = new Map<string, bigint>();
  private readonly indexes = new Map<string, Map<string, number>>();

  async get<T>(collection: string, id: string): Promise<VersionedDoc<T> | null> {
    const text = this.docs.get(docKey(collection, id));
    return text === undefined ? null : (JSON.parse(text) as VersionedDoc<T>);
  }

  async getMany<T>(collection: string, ids: readonly string[]): Promise<(VersionedDoc<T> | null)[]> {
    return Promise.all(ids.map((id) => this.get<T>(collection, id)));
  }

  // Atomic because nothing awaits between the compare and the write.
  async compareAndSet<T>(
    collection: string,
    id: string,
    expectedVersion: number,
    doc: VersionedDoc<T>,
  ): Promise<boolean> {
    const key = docKey(collection, id);
    const stored = this.docs.get(key);
    const storedVersion = stored === undefined ? 0 : (JSON.parse(stored) as VersionedDoc).version;
    if (storedVersion !== expectedVersion) return false;
    const { version, eventAt, projectedAt, data } = doc;
    this.docs.set(key, JSON.stringify({ version, eventAt, projectedAt, data }));
    return true;
  }

  async getCheckpoint(name: string): Promise<bigint | null> {
    return this.checkpoints.get(name) ?? null;
  }

  async setCheckpoint(name: string, position: bigint): Promise<void> {
    this.checkpoints.set(name, position);
  }

  async indexAdd(index: string, member: string, score: number): Promise<void> {
    let members = this.indexes.get(index);
    if (!members) this.indexes.set(index, (members = new Map()));
    members.set(member, score);
  }

  async indexRange(index: string, { offset = 0, limit, reverse = false }: IndexRangeOptions = {}): Promise<string[]> {
    // Sorted on read: the embedded mode holds few documents, and this keeps writes trivial.
    const ordered = [...(this.indexes.get(index) ?? [])]
      .sort(([memberA, scoreA], [memberB, scoreB]) => scoreA - scoreB || (memberA < memberB ? -1 : memberA > memberB ? 1 : 0))
      .map(([member]) => member);
    if (reverse) ordered.reverse();
    return ordered.slice(offset, limit === undefined ? undefined : offset + Math.max(limit, 0));
  }

  async indexCount(index: string): Promise<number> {
    return this.indexes.get(index)?.size ?? 0;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}
}

// The same layout as the Redis keys, so ids containing ':' behave the same in both.
function docKey(collection: string, id: string): string {
  return `${collection}:${id}`;
}
