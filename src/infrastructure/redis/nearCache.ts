// Documents a query process has read, kept in its memory and dropped the moment Redis says they changed.
//
// Redis tracks the keys (server-assisted client-side caching, `CLIENT TRACKING ... BCAST PREFIX`): every
// write to a document under a tracked prefix, by any process, script, repair or UNLINK, sends this
// process the key on a connection of its own, so nothing that changes a document can forget to tell the
// cache. What the cache holds is only ever served while that connection is up and tracking its prefix:
// a lost connection drops everything, and reads go to Redis until tracking is back.
//
// The invalidation travels on another socket than the read it races with, so a read that was in flight
// when its key changed is not kept (its answer may predate the change); and a read that began before
// tracking was (re)established is not kept either. A read that wants at least some version (`minVersion`)
// is served from here only if the cached document has it; otherwise from Redis.
import { Redis } from 'ioredis';
import type { VersionedDoc } from '../../ports.js';
import { metrics } from '../../metrics.js';

export interface NearCacheOptions {
  url: string;
  /** Most documents held; the oldest inserted goes first. */
  maxEntries: number;
  /** Told when tracking could not be set up; reads go to Redis until a reconnect sets it up. */
  onError?: (error: unknown) => void;
}

/** Prefixes tracked at once: one per collection's active namespace, and a few left over from rebuilds. */
const MAX_PREFIXES = 8;
const INVALIDATE = '__redis__:invalidate';
// Bound once: a labelled inc per read costs a lookup of its labels.
const outcomes = { hit: metrics.readCache.labels('hit'), miss: metrics.readCache.labels('miss'), untracked: metrics.readCache.labels('untracked') };

interface Flight {
  /** The key changed (or everything was dropped) while this read was in flight: its answer is not kept. */
  spoilt: boolean;
  readers: number;
}

export class NearCache {
  private readonly entries = new Map<string, VersionedDoc<unknown>>();
  private readonly flights = new Map<string, Flight>();
  /** Prefixes the live connection tracks; empty while it is down. */
  private tracked = new Set<string>();
  private readonly wanted = new Set<string>();
  private connection: Redis | undefined;
  private closed = false;
  /** CLIENT ID of the tracking connection while it tracks (for operators and tests: CLIENT LIST / KILL). */
  trackingClientId: number | undefined;

  constructor(private readonly options: NearCacheOptions) {}

  /**
   * The document at `key` (under `prefix`, the part of the key Redis tracks): from memory when held with a
   * version of at least `minVersion`, otherwise from `fetch`, whose answer is kept when it is safe to.
   */
  async read<T>(key: string, prefix: string, minVersion: number, fetch: () => Promise<VersionedDoc<T> | null>): Promise<VersionedDoc<T> | null> {
    if (this.tracked.has(prefix)) {
      const held = this.entries.get(key);
      if (held && held.version >= minVersion) {
        outcomes.hit.inc();
        return held as VersionedDoc<T>;
      }
      outcomes.miss.inc();
    } else {
      this.want(prefix);
      outcomes.untracked.inc();
    }
    let flight = this.flights.get(key);
    if (!flight) this.flights.set(key, (flight = { spoilt: false, readers: 0 }));
    flight.readers++;
    try {
      const doc = await fetch();
      // Spoilt also when everything was dropped meanwhile, tracking (re)started included.
      if (doc && !flight.spoilt && this.tracked.has(prefix)) this.keep(key, doc);
      return doc;
    } finally {
      if (--flight.readers === 0) this.flights.delete(key);
    }
  }

  /** Redis says `keys` changed; null: everything may have (FLUSHALL, or its tracking table overflowed). */
  invalidate(keys: readonly string[] | null): void {
    if (keys === null) return this.dropAll();
    for (const key of keys) {
      this.entries.delete(key);
      const flight = this.flights.get(key);
      if (flight) flight.spoilt = true;
    }
  }

  get size(): number {
    return this.entries.size;
  }

  /** Whether documents under `prefix` can be served from memory now. */
  tracks(prefix: string): boolean {
    return this.tracked.has(prefix);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.dropAll();
    await this.connection?.quit().catch(() => undefined);
  }

  private keep(key: string, doc: VersionedDoc<unknown>): void {
    // Shared by every request that reads it from now on: nobody may change it.
    freeze(doc);
    if (!this.entries.has(key) && this.entries.size >= this.options.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, doc);
  }

  /** Drops what is held, and spoils every read in flight: none of them is kept. */
  private dropAll(): void {
    this.entries.clear();
    for (const flight of this.flights.values()) flight.spoilt = true;
  }

  /** Starts tracking `prefix`: a subscribed connection cannot change what it tracks, so it reconnects. */
  want(prefix: string): void {
    if (this.closed || this.wanted.has(prefix)) return;
    this.wanted.add(prefix);
    if (this.wanted.size > MAX_PREFIXES) this.wanted.delete(this.wanted.values().next().value!);
    if (!this.connection) this.connection = this.connect();
    else if (this.connection.status === 'ready') this.connection.disconnect(true);
  }

  private connect(): Redis {
    // RESP2: ioredis 6 drops RESP3's invalidation pushes, and over RESP2 they arrive as pub/sub messages.
    // Subscribed by hand on each connect, after CLIENT TRACKING (a subscribed RESP2 connection runs nothing else).
    const connection = new Redis(this.options.url, { protocol: 2, autoResubscribe: false, maxRetriesPerRequest: 1, enableOfflineQueue: false });
    connection.on('error', () => {});
    connection.on('close', () => {
      this.tracked = new Set();
      this.trackingClientId = undefined;
      this.dropAll();
    });
    connection.on('ready', () => {
      // Not tracking, nothing is served from memory: reads go to Redis until the next reconnect tracks.
      this.track(connection).catch((error: unknown) => this.options.onError?.(error));
    });
    connection.on('messageBuffer', (channel: Buffer, message: Buffer[] | Buffer | null) => {
      if (channel.toString() !== INVALIDATE) return;
      this.invalidate(Array.isArray(message) ? message.map(String) : null);
    });
    return connection;
  }

  private async track(connection: Redis): Promise<void> {
    const prefixes = [...this.wanted];
    const id = Number(await connection.client('ID'));
    const args = prefixes.flatMap((prefix) => ['PREFIX', prefix]);
    await connection.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(id), 'BCAST', ...args);
    await connection.subscribe(INVALIDATE);
    if (connection !== this.connection || connection.status !== 'ready') return;
    // Reads that began before now were not covered: none of them is kept.
    this.dropAll();
    this.tracked = new Set(prefixes);
    this.trackingClientId = id;
  }
}

function freeze(value: unknown): void {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const child of Object.values(value)) freeze(child);
}
