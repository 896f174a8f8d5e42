// The ports between the core and the vendors. Each has one real adapter (Postgres, NATS JetStream,
// Redis) and one embedded twin (PGlite, in-process, in-memory); both pass the same contract suite.

/** Who did what, carried by every event. Commit time is the store's `committedAt`. */
export interface EventMetadata {
  eventId: string;
  commandId: string;
  correlationId: string;
  causationId: string;
  userId: string;
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
  committedAt: Date;
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
  readStream(streamId: string, fromVersion?: number): Promise<StoredEvent[]>;
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
  ack(): Promise<void>;
  /** Redeliver after `delayMs`. */
  nak(delayMs?: number): Promise<void>;
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
    options?: { concurrency?: number },
  ): Promise<BusSubscription>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A read-model document with the freshness facts every answer carries. */
export interface VersionedDoc<T = unknown> {
  version: number;
  /** Commit time of the event at `version`, ISO-8601. */
  eventAt: string;
  /** When a projector wrote the document, ISO-8601. */
  projectedAt: string;
  data: T;
}

export interface ReadStore {
  get<T>(collection: string, id: string): Promise<VersionedDoc<T> | null>;
  /**
   * Writes `doc` only if the stored document's version is `expectedVersion` (0: no document yet).
   * Atomic across processes. Returns whether it wrote.
   */
  compareAndSet<T>(
    collection: string,
    id: string,
    expectedVersion: number,
    doc: VersionedDoc<T>,
  ): Promise<boolean>;
  getCheckpoint(name: string): Promise<bigint | null>;
  setCheckpoint(name: string, position: bigint): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Published after a read document changed; crosses processes. */
export interface ChangeNotice {
  collection: string;
  id: string;
  version: number;
  /** Owner of the document, for per-user subscriptions. */
  userId?: string;
  eventType: string;
}

export interface ChangeFeed {
  publish(notice: ChangeNotice): Promise<void>;
  /** Calls `handler` for every notice published by any process from now on; returns an unsubscribe. */
  subscribe(handler: (notice: ChangeNotice) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
