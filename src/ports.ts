// The ports between the core and the vendors. Each has one real adapter (Postgres, NATS JetStream,
// Redis) and one embedded twin (PGlite, in-process, in-memory); both pass the same contract suite.

/** Who did what, carried by every event. When is the store's `recordedAt`. */
export interface EventMetadata {
  eventId: string;
  commandId: string;
  correlationId: string;
  causationId: string;
  userId: string;
  /** W3C trace context of the append, when tracing is on: later hops of the command join its trace. */
  traceparent?: string;
}

export interface NewEvent {
  type: string;
  schemaVersion: number;
  data: unknown;
  metadata: EventMetadata;
}

export interface StoredEvent {
  /** Global position, a 64-bit integer. */
  position: bigint;
  streamId: string;
  version: number;
  type: string;
  schemaVersion: number;
  data: unknown;
  metadata: EventMetadata;
  /**
   * When the append recorded the event: its transaction's start (Postgres now()), which commits moments
   * later. Not the commit time: an append that started earlier may commit later, so times need not rise
   * with positions. GraphQL still calls it `committedAt` (OrderEvent), and so does the bus message.
   */
  recordedAt: Date;
}

export interface AppendResult {
  /** Stream version after the append. */
  version: number;
  /** Position of the last appended event. */
  position: bigint;
  events: StoredEvent[];
}

/** Stored with the append, in the same transaction: a repeat of (userId, key) returns `result`. */
export interface IdempotencyClaim {
  userId: string;
  key: string;
  requestHash: string;
  result: (append: AppendResult) => unknown;
}

export interface IdempotencyRecord {
  requestHash: string;
  result: unknown;
}

/** Thrown by `append` when the stream is not at `expectedVersion`. */
export class WrongExpectedVersionError extends Error {
  constructor(
    readonly streamId: string,
    readonly expectedVersion: number,
  ) {
    super(`stream ${streamId} is not at version ${expectedVersion}`);
    this.name = 'WrongExpectedVersionError';
  }
}

/** Thrown by `append` when another command already holds the idempotency key. */
export class IdempotencyKeyTakenError extends Error {
  constructor(
    readonly userId: string,
    readonly key: string,
  ) {
    super(`idempotency key ${key} is already used`);
    this.name = 'IdempotencyKeyTakenError';
  }
}

export interface EventStore {
  /**
   * Appends atomically: the events, one outbox row each and the idempotency record commit together or
   * not at all. `expectedVersion` 0 means the stream must not exist yet.
   */
  append(
    streamId: string,
    expectedVersion: number,
    events: NewEvent[],
    idempotency?: IdempotencyClaim,
  ): Promise<AppendResult>;
  /** Events of one stream with version >= fromVersion, in version order, archived ones included. */
  readStream(streamId: string, fromVersion?: number, limit?: number): Promise<StoredEvent[]>;
  /** Events with position > after, in position order, archived ones included. */
  readAll(after: bigint, limit: number): Promise<StoredEvent[]>;
  headPosition(): Promise<bigint>;
  /** The latest snapshot of a stream, whatever its format; the reader decides whether it can use it. */
  readSnapshot(streamId: string): Promise<{ version: number; schemaVersion: number; state: unknown } | null>;
  /**
   * Keeps one snapshot per stream: replaces the stored one unless that is newer in the same format.
   * An optimisation only: deleting every snapshot changes no result.
   */
  writeSnapshot(streamId: string, version: number, schemaVersion: number, state: unknown): Promise<void>;
  findIdempotency(userId: string, key: string): Promise<IdempotencyRecord | null>;
  /**
   * Hands the oldest unpublished outbox events (at most `limit`, position order) to `publish` under a
   * lock only one relay holds at a time; rows are marked published only for events `publish` resolved.
   * Returns how many were published.
   */
  relayOutbox(limit: number, publish: (event: StoredEvent) => Promise<void>): Promise<number>;
  /** Calls `onAppend` when new outbox rows may exist (LISTEN/NOTIFY or in-process); returns a stop. */
  watchOutbox(onAppend: () => void): Promise<() => Promise<void>>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface BusMessage {
  event: StoredEvent;
  /** 1 on first delivery. */
  deliveryCount: number;
  /** When the bus stored the event: the moment it was published. */
  publishedAt: Date;
  ack(): Promise<void>;
  /** Redeliver after `delayMs`. */
  nak(delayMs?: number): Promise<void>;
}

/** A message on the bus that is no event our relay publishes (not JSON, no envelope, ids that disagree). */
export interface InvalidMessage {
  /** The order id its subject names. */
  streamId: string;
  /** Where the bus keeps it (JetStream stream sequence): with the consumer, identifies it. */
  sequence: number;
  reason: string;
  deliveryCount: number;
}

export interface SubscribeOptions {
  concurrency?: number;
  /**
   * Called once for each invalid message, which is then never delivered again; without it, or while
   * it fails, the message is redelivered later.
   */
  onInvalid?: (message: InvalidMessage) => Promise<void>;
}

export interface BusSubscription {
  stop(): Promise<void>;
}

export interface EventBus {
  /** Idempotent by event id (JetStream Nats-Msg-Id); resolves once the bus has stored the event. */
  publish(event: StoredEvent): Promise<void>;
  /**
   * Durable consumer `durable`: each consumer name sees every event; several processes using the same
   * name share the work. Unacked messages are redelivered.
   */
  subscribe(
    durable: string,
    handler: (message: BusMessage) => Promise<void>,
    options?: SubscribeOptions,
  ): Promise<BusSubscription>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A read-model document with the freshness facts every answer carries. */
export interface VersionedDoc<T = unknown> {
  version: number;
  /** Id of the event at `version`: with the version, what reconciliation compares to the event store. */
  eventId?: string;
  /** When the store recorded the event at `version` (StoredEvent.recordedAt), ISO-8601. */
  eventAt: string;
  /** When a projector wrote the document, ISO-8601. */
  projectedAt: string;
  data: T;
}

/** A change to a sorted index of a collection, made together with one document write. */
export type IndexChange = { index: string; member: string; score: number } | { index: string; member: string; remove: true };

/** What goes with one document write, atomically: a refused write changes none of it. */
export interface WriteEffects {
  /** Index names are relative to the collection: `user:1` of `userOrder` is read as `userOrder:user:1`. */
  indexes?: IndexChange[];
  /** Integer deltas added to the collection's counters. */
  counters?: Record<string, number>;
}

export interface Counters {
  values: Record<string, number>;
  /** Events folded into the counters, so far. */
  events: number;
  /** Newest recordedAt among them, and the last write, ISO-8601; null before the first write. */
  eventAt: string | null;
  projectedAt: string | null;
}

export interface IndexRangeOptions {
  /** Members to skip, counted from the low end (or the high end when `reverse`). Default 0. */
  offset?: number;
  /** At most this many members. Default: all. */
  limit?: number;
  /** Highest score first; ties by member, descending too. */
  reverse?: boolean;
  /** Inclusive score bounds. */
  minScore?: number;
  maxScore?: number;
}

/** One document write of `DocumentStore.applyMany`. */
export interface DocWrite<T> {
  id: string;
  expectedVersion: number;
  doc: VersionedDoc<T>;
  effects: WriteEffects;
}

// The read store is three ports, each what one kind of caller needs: documents (projections and
// queries), indexes and counters (list and statistics queries), coordination (projector processes:
// checkpoints, leases, status facts, namespaces). One adapter implements all three (`ReadStore`).

/** A document's place in its stream, without the document. */
export type DocHead = Pick<VersionedDoc, 'version' | 'eventId'>;

/** How a read may be answered. */
export interface GetOptions {
  /**
   * A query's read: it may be answered from this process's near cache (documents it read before, dropped
   * the moment Redis reports them changed) when that holds a version of at least this. Writers, repairs and
   * subscriptions never pass it: they read the store itself. Stores without a near cache ignore it.
   */
  cachedFrom?: number;
}

/** Read-model documents, written only by compare-and-set on their version, together with their effects. */
export interface DocumentStore {
  get<T>(collection: string, id: string, options?: GetOptions): Promise<VersionedDoc<T> | null>;
  /** One entry per id, in the order asked: the document, or null where there is none. */
  getMany<T>(collection: string, ids: readonly string[]): Promise<(VersionedDoc<T> | null)[]>;
  /**
   * Of each document only what reconciliation compares with the event store, its version and last event
   * id, in the order asked; null where there is none. Cheaper than `getMany` (no document body read or
   * parsed), for sweeps over thousands of orders.
   */
  heads(collection: string, ids: readonly string[]): Promise<(DocHead | null)[]>;
  /**
   * Writes `doc` and its `effects` in one atomic step, only if the stored document's version is
   * `expectedVersion` (0: no document yet) and, when `expectedEventId` is given, its last applied event
   * is that one. Atomic across processes. Returns whether it wrote; a refused write changes nothing.
   */
  apply<T>(collection: string, id: string, expectedVersion: number, doc: VersionedDoc<T>, effects: WriteEffects, expectedEventId?: string): Promise<boolean>;
  /** Many `apply` calls at once (a rebuild's flush), each its own atomic step; one outcome each, in order. Optional: callers fall back to `apply`. */
  applyMany?<T>(collection: string, writes: readonly DocWrite<T>[]): Promise<boolean[]>;
}

/** What document writes changed besides documents: sorted indexes and counters, read only. */
export interface IndexReader {
  /** Members of an index (`<collection>:<index>`); ties in score order by member, as Redis sorted sets do. */
  indexRange(index: string, options?: IndexRangeOptions): Promise<string[]>;
  indexEntries(index: string, options?: IndexRangeOptions): Promise<{ member: string; score: number }[]>;
  indexCount(index: string): Promise<number>;
  counters(collection: string): Promise<Counters>;
}

/** What projector processes share to work together: checkpoints, leases, status facts and namespaces. */
export interface ReadCoordination {
  getCheckpoint(name: string): Promise<bigint | null>;
  /** Raises the checkpoint to `position`; never lowers it, as several projectors save at once. */
  setCheckpoint(name: string, position: bigint): Promise<void>;
  readonly namespaces: ReadNamespaces;
  /** Takes or renews the lease `name` for `owner`; false while someone else holds it. */
  lease(name: string, owner: string, ttlMs: number): Promise<boolean>;
  leaseHolder(name: string): Promise<string | null>;
  release(name: string, owner: string): Promise<void>;
  /** Small shared facts (the event store's head, projector status), outside every namespace. */
  setInfo(key: string, fields: Record<string, string>): Promise<void>;
  getInfo(key: string): Promise<Record<string, string>>;
}

/**
 * Each collection lives in a namespace. Before its first rebuild that is the root ('').
 * A rebuild fills a fresh namespace beside the live one, then makes it active in one atomic step.
 * A name (index, checkpoint) belongs to the namespace of the collection it starts with (`<collection>:...`).
 */
export interface ReadNamespaces {
  /**
   * How long a process may go on using a collection's previous namespace after a switch (it caches the
   * active one): whoever drops or trusts a switched-away namespace waits this long first.
   */
  readonly activeCacheMs: number;
  active(collection: string): Promise<string>;
  /** A namespace nobody has used yet. */
  create(): Promise<string>;
  /** A store bound to `ns` for every collection, whichever is active, and never held by a fence. */
  pinned(ns: string): PinnedReadStore;
  /** Holds every unpinned write to the collection until `switchTo`, or for at most `ttlMs`. */
  fence(collection: string, ttlMs: number): Promise<void>;
  /** Makes `ns` the collection's active namespace and lifts its fence, in one step. */
  switchTo(collection: string, ns: string): Promise<void>;
  /** Deletes the collection's documents, indexes, counters and checkpoint in `ns`. */
  drop(collection: string, ns: string): Promise<void>;
}

/** What a rebuild writes into its fresh namespace: documents and the checkpoint. */
export type PinnedReadStore = DocumentStore & Pick<ReadCoordination, 'getCheckpoint' | 'setCheckpoint'>;

/** The whole read store, as its adapters (Redis, memory) implement it and the composition root holds it. */
export interface ReadStore extends DocumentStore, IndexReader, ReadCoordination {
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * poison: an event of the store the projection cannot apply; later events of its order wait behind it.
 * rejected: a message on the bus the event store does not confirm (not JSON, no envelope, an unknown
 * type or a version the store lacks); it never changed a document and blocks nothing.
 * unpublished: an event of the store the outbox relay gave up publishing (consumer `outbox-relay`); the
 * read models still get it from the store (gap repair, reconciliation), and a retry publishes it again.
 */
export type DeadLetterKind = 'poison' | 'rejected' | 'unpublished';

/** What is known of a rejected message: the order its subject or body names, and why it was refused. */
export interface RejectedMessage {
  consumer: string;
  streamId: string;
  /** The version it claims, 0 when it has none. */
  version: number;
  /** Identifies the message on the bus (e.g. `seq:42`), so its redeliveries are one letter. */
  messageKey: string;
  reason: string;
  deliveries: number;
}

/** An event a consumer gave up on, with why; stays until a retry applies it. */
export interface DeadLetter {
  id: bigint;
  consumer: string;
  kind: DeadLetterKind;
  eventId: string;
  streamId: string;
  version: number;
  position: bigint;
  reason: string;
  deliveries: number;
  failedAt: Date;
  retriedAt: Date | null;
  resolvedAt: Date | null;
}

/** Where dead letters are kept: Postgres (`dead_letters`) or, embedded, memory. */
export interface DeadLetterStore {
  /** Once per (consumer, event): recording it again updates the reason and deliveries and reopens it. */
  record(entry: { consumer: string; event: StoredEvent; reason: string; deliveries: number }): Promise<void>;
  /** Records a rejected message once per (consumer, message). */
  reject(entry: RejectedMessage): Promise<void>;
  /** For each of the consumer's streams with an unresolved poison letter, the lowest such version. */
  blocked(consumer: string): Promise<Map<string, number>>;
  /** Oldest first. */
  list(options?: { unresolvedOnly?: boolean; ids?: bigint[] }): Promise<DeadLetter[]>;
  markRetried(id: bigint, outcome: { resolved: true } | { resolved: false; reason: string }): Promise<void>;
  /** Unresolved letters per consumer. */
  countUnresolved(): Promise<Record<string, number>>;
}

export interface StreamHead {
  streamId: string;
  version: number;
  position: bigint;
  /** Id of the event at `version`. */
  eventId: string;
}

/** A page of `StreamVersions.changedSince`: the streams after `after` (in stream id order), at most `limit`. */
export interface StreamPage {
  after?: string;
  limit?: number;
}

/** What reconciliation asks of the event store besides the `EventStore` port: an aggregate read no command needs. */
export interface StreamVersions {
  /**
   * The latest version (and its position) of every stream with an event committed at or after `since`,
   * in stream id order; with `page`, only the streams after `page.after`, at most `page.limit` of them
   * (a caller that pages never holds, nor decodes at once, the heads of a whole busy interval).
   */
  changedSince(since: Date, page?: StreamPage): Promise<StreamHead[]>;
}

/** Published after a read document changed; crosses processes. */
export interface ChangeNotice {
  collection: string;
  id: string;
  version: number;
  /** Owner of the document, for per-user subscriptions. */
  userId?: string;
  eventType: string;
  /**
   * The document as written at `version`, so a subscriber that is one version behind needs no read of
   * its own (one per subscriber per change, otherwise). Absent from older publishers: read it then.
   */
  doc?: VersionedDoc<unknown>;
  /** W3C trace context of the write behind the notice, when tracing is on. */
  traceparent?: string;
}

export interface ChangeFeed {
  publish(notice: ChangeNotice): Promise<void>;
  /** Calls `handler` for every notice published by any process from now on; returns an unsubscribe. */
  subscribe(handler: (notice: ChangeNotice) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** The stages of a command's receipt, in the order a command reaches them. */
export const commandStages = ['ACCEPTED', 'APPENDED', 'PUBLISHED', 'PROJECTED'] as const;
export type CommandStage = (typeof commandStages)[number];

/** What became of one command, stage by stage; stages are written by different processes in any order. */
export interface Receipt {
  commandId: string;
  orderId: string;
  userId: string;
  /** Aggregate version after the command. */
  version: number;
  /** ISO-8601 time each reached stage was reached. */
  stages: Partial<Record<CommandStage, string>>;
}

export interface ReceiptStore {
  /** Merges `stages` into the receipt (creating it), keeps it for a while, and announces the change. */
  record(receipt: Omit<Receipt, 'stages'>, stages: Partial<Record<CommandStage, string>>): Promise<void>;
  get(commandId: string): Promise<Receipt | null>;
  /** Calls `onChange` whenever the receipt of `commandId` changes, from any process; returns an unsubscribe. */
  watch(commandId: string, onChange: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
