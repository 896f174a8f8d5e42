// The event store on Postgres. One class serves the real server and the embedded PGlite: only the
// connection (pg's pool or PGlite, under both Prisma and the hot statements in sql.ts) and the way
// NOTIFY reaches us differ.
import type { PGlite } from '@electric-sql/pglite';
import PQueue from 'p-queue';
import pg from 'pg';
import { Prisma, type PrismaClient } from '../../generated/prisma/client.js';
import { KeyedQueue } from '../../keyedQueue.js';
import {
  type AppendResult,
  type EventMetadata,
  type EventStore,
  type IdempotencyClaim,
  IdempotencyKeyTakenError,
  type IdempotencyRecord,
  type NewEvent,
  type StoredEvent,
  WrongExpectedVersionError,
} from '../../ports.js';
import { createPool, createPrismaClient, type DbTarget } from './prisma.js';
import { pgliteSql, poolSql, type Sql, type SqlClient, violates } from './sql.js';

/** Calls `onNotify` on every NOTIFY of channel `outbox`; resolves to an unsubscribe. */
export type OutboxListen = (onNotify: () => void) => Promise<() => Promise<void>>;

// Any constant, as long as every relay uses the same one.
const RELAY_LOCK_KEY = 0x6f7574626f78; // "outbox"
/** `onClose` runs after the store has closed, e.g. to close a PGlite the store does not own. */
export function createEventStore(target: DbTarget, onClose?: () => Promise<void>): PrismaEventStore {
  if ('url' in target) {
    const pool = createPool(target.url);
    return new PrismaEventStore(createPrismaClient(target, pool), poolSql(pool), pgListen(target.url), onClose, pgNotifier(target.url));
  }
  const { pglite } = target;
  const notifier = coalesced(async () => void (await pglite.query(NOTIFY_OUTBOX)));
  return new PrismaEventStore(createPrismaClient(target), pgliteSql(pglite), pgliteListen(pglite), onClose, { notify: notifier, close: async () => {} });
}

export class PrismaEventStore implements EventStore {
  private readonly stops = new Set<() => Promise<void>>();

  constructor(
    private readonly prisma: PrismaClient,
    /** The same database as `prisma`, for the statements on every event's path (see sql.ts). */
    private readonly sql: Sql,
    private readonly listen: OutboxListen,
    private readonly onClose?: () => Promise<void>,
    /** Wakes the relays once an append has committed (see `pgNotifier`); without it they find rows by polling. */
    private readonly notifier?: Notifier,
  ) {}

  /**
   * One statement, so one round trip and atomic by itself: the version check, the events, their outbox
   * rows and the idempotency record commit together or not at all. The check only lets the
   * insert start when the stream is at expectedVersion; a concurrent writer that passed the same check
   * loses on the unique (stream_id, version), which the database enforces whatever either of us saw.
   */
  async append(
    streamId: string,
    expectedVersion: number,
    events: NewEvent[],
    idempotency?: IdempotencyClaim,
  ): Promise<AppendResult> {
    if (events.length === 0) throw new Error('append needs at least one event');
    const conflict = () => new WrongExpectedVersionError(streamId, expectedVersion);

    // An idempotency record holds a result computed from the append (its version and positions), so a
    // claim first reserves the positions and the time (recordedAt), under the same version check: reserved once
    // the stream is seen at expectedVersion, they still come after every earlier event of the stream.
    let reserved: Reserved | null = null;
    if (idempotency) {
      const rows = await this.sql.query<{ position: string; at: Date }>(
        `SELECT nextval(pg_get_serial_sequence('events', 'position'))::text AS position, now()::timestamptz(3) AS at
         FROM generate_series(1, $2::int) WHERE ${currentVersion('$1')} = $3::int`,
        [streamId, events.length, expectedVersion],
        'reserve-positions',
      );
      if (rows.length === 0) throw conflict();
      reserved = { positions: rows.map((row) => BigInt(row.position)).sort((a, b) => (a < b ? -1 : 1)), at: rows[0]!.at };
    }
    const batch = events.map((event, i) => ({
      position: reserved?.positions[i]!.toString(),
      event_id: event.metadata.eventId,
      version: expectedVersion + 1 + i,
      type: event.type,
      schema_version: event.schemaVersion,
      data: event.data,
      metadata: event.metadata,
    }));
    const values: unknown[] = [streamId, expectedVersion, reserved?.at ?? null, JSON.stringify(batch)];
    let claim = '';
    if (idempotency && reserved) {
      const { userId, key, requestHash } = idempotency;
      const planned = batch.map((row, i): StoredEvent => ({ ...events[i]!, position: reserved.positions[i]!, streamId, version: row.version, recordedAt: reserved.at }));
      const result = idempotency.result({ version: planned.at(-1)!.version, position: planned.at(-1)!.position, events: planned });
      values.push(userId, key, requestHash, JSON.stringify(result ?? null));
      claim = `, claimed AS (
        INSERT INTO idempotency_records (user_id, key, request_hash, result)
        SELECT $5, $6, $7, $8::jsonb WHERE EXISTS (SELECT FROM appended))`;
    }

    // Positions not reserved are drawn by nextval, which Postgres evaluates after the ORDER BY (a volatile
    // output expression), so they rise with the versions. No NOTIFY in here: see `pgNotifier`.
    const rows = await this.sql
      .query<RawEvent>(
        `WITH appended AS (
          INSERT INTO events (position, event_id, stream_id, version, type, schema_version, data, metadata, committed_at)
          SELECT coalesce(e.position, nextval(pg_get_serial_sequence('events', 'position'))), e.event_id, $1, e.version,
            e.type, e.schema_version, e.data, e.metadata, coalesce($3::timestamptz, now())
          FROM jsonb_to_recordset($4::jsonb)
            AS e(position bigint, event_id uuid, version int, type text, schema_version int, data jsonb, metadata jsonb)
          WHERE ${currentVersion('$1')} = $2::int
          ORDER BY e.version
          RETURNING ${columns}
        ), queued AS (
          INSERT INTO outbox (position) SELECT position FROM appended
        )${claim}
        SELECT ${columns} FROM appended ORDER BY version`,
        values,
        claim ? 'append-claimed' : 'append',
      )
      .catch((error: unknown) => {
        if (violates(error, 'events_stream_id_version_key')) throw conflict();
        if (idempotency && violates(error, 'idempotency_records_pkey')) throw new IdempotencyKeyTakenError(idempotency.userId, idempotency.key);
        throw error;
      });
    if (rows.length === 0) throw conflict();
    this.notifier?.notify();
    const stored = rows.map(fromRaw);
    const last = stored[stored.length - 1]!;
    return { version: last.version, position: last.position, events: stored };
  }

  // Archived rows first, then hot ones, in one statement: two queries could straddle an archive batch
  // and see the stream in neither table (or, the other way round, in both).
  async readStream(streamId: string, fromVersion = 1, limit?: number): Promise<StoredEvent[]> {
    // LIMIT NULL is no limit.
    const rows = await this.sql.query<RawEvent>(
      `SELECT ${columns} FROM events_archive WHERE stream_id = $1 AND version >= $2::int
       UNION ALL
       SELECT ${columns} FROM events WHERE stream_id = $1 AND version >= $2::int
       ORDER BY version LIMIT $3::int`,
      [streamId, fromVersion, limit ?? null],
      'read-stream',
    );
    return rows.map(fromRaw);
  }

  // Archived streams interleave with hot ones by position; each side walks its primary key.
  async readAll(after: bigint, limit: number): Promise<StoredEvent[]> {
    const rows = await this.prisma.$queryRaw<RawEvent[]>`
      SELECT * FROM (
        (SELECT ${prismaColumns} FROM events_archive WHERE position > ${after} ORDER BY position LIMIT ${limit})
        UNION ALL
        (SELECT ${prismaColumns} FROM events WHERE position > ${after} ORDER BY position LIMIT ${limit})
      ) merged ORDER BY position LIMIT ${limit}`;
    return rows.map(fromRaw);
  }

  async headPosition(): Promise<bigint> {
    const [{ head }] = await this.prisma.$queryRaw<[{ head: bigint | null }]>`
      SELECT GREATEST((SELECT max(position) FROM events), (SELECT max(position) FROM events_archive)) AS head`;
    return head ?? 0n;
  }

  async readSnapshot(streamId: string): Promise<{ version: number; schemaVersion: number; state: unknown } | null> {
    const [row] = await this.sql.query<{ version: number; schema_version: number; state: unknown }>(
      'SELECT version, schema_version, state FROM snapshots WHERE stream_id = $1',
      [streamId],
      'read-snapshot',
    );
    return row ? { version: row.version, schemaVersion: row.schema_version, state: row.state } : null;
  }

  async writeSnapshot(streamId: string, version: number, schemaVersion: number, state: unknown): Promise<void> {
    // Writers race (a slow one may finish after a faster, later one): an older snapshot never replaces
    // a newer one of the same format, while a change of format always wins.
    await this.prisma.$executeRaw`
      INSERT INTO snapshots (stream_id, version, schema_version, state)
      VALUES (${streamId}, ${version}, ${schemaVersion}, ${JSON.stringify(state)}::jsonb)
      ON CONFLICT (stream_id) DO UPDATE
        SET version = EXCLUDED.version, schema_version = EXCLUDED.schema_version, state = EXCLUDED.state, created_at = now()
        WHERE snapshots.version < EXCLUDED.version OR snapshots.schema_version <> EXCLUDED.schema_version`;
  }

  async findIdempotency(userId: string, key: string): Promise<IdempotencyRecord | null> {
    const [row] = await this.sql.query<{ request_hash: string; result: unknown }>(
      'SELECT request_hash, result FROM idempotency_records WHERE user_id = $1 AND key = $2',
      [userId, key],
      'find-idempotency',
    );
    return row ? { requestHash: row.request_hash, result: row.result } : null;
  }

  /**
   * Publishes up to `limit` pending outbox rows, `inFlight` at once (default 1): the bus stores one
   * connection's messages in the order they were sent, so a batch need not wait out one acknowledgement
   * per event. An event still waits for the one before it in its own stream, so a stream never runs
   * ahead of a failure; other streams go on, so no single row can hold back everyone's events.
   * A failed row waits out an exponential backoff (and its stream with it). A failure counts against
   * the row only while the bus answers `busUp`: an outage is no reason to give up on an event. After
   * `maxAttempts` counted failures the row is dead-lettered (consumer `outbox-relay`) in the same
   * transaction, and `onDeadLetter` hears of it.
   */
  async relayOutbox(limit: number, publish: (event: StoredEvent) => Promise<void>, options: RelayOutboxOptions = {}): Promise<number> {
    const { inFlight = 1, maxAttempts = 10, busUp = async () => true, onDeadLetter, beforeRead } = options;
    return this.sql.transaction(async (tx: SqlClient) => {
      // One relay at a time, or two replicas could publish the same stream out of order. The lock
      // ends with the transaction, so a crashed relay cannot keep it. This transaction commits without
      // waiting for the WAL flush (synchronous_commit off, for it alone): the next batch, and the events
      // committed meanwhile, no longer wait for the disk behind this one. What it writes is a mark that a
      // row was published; one lost in a Postgres crash means that row is published again, which the bus
      // drops by message id (or the projectors by version): the events themselves were flushed by the append.
      const [lock] = await tx.query<{ locked: boolean }>(
        `SELECT pg_try_advisory_xact_lock(${RELAY_LOCK_KEY}::bigint) AS locked, set_config('synchronous_commit', 'off', true)`,
        [],
        'relay-lock',
      );
      if (!lock?.locked) return 0;

      // A stream whose oldest pending row waits out its backoff waits whole, from that row on. Read
      // Committed: this statement sees every append committed before it is sent.
      beforeRead?.();
      const pending = await tx.query<RawEvent & { attempts: number }>(
        `WITH waiting AS (
          SELECT e.stream_id, min(o.position) AS from_position
          FROM outbox o JOIN events e ON e.position = o.position
          WHERE o.published_at IS NULL AND o.dead_lettered_at IS NULL AND o.next_attempt_at > now()
          GROUP BY e.stream_id)
        SELECT ${qualifiedColumns}, o.attempts FROM outbox o JOIN events e ON e.position = o.position
        LEFT JOIN waiting w ON w.stream_id = e.stream_id
        WHERE o.published_at IS NULL AND o.dead_lettered_at IS NULL AND (w.from_position IS NULL OR o.position < w.from_position)
        ORDER BY o.position LIMIT $1::int`,
        [limit],
        'relay-pending',
      );
      const attemptsBefore = new Map(pending.map((row) => [BigInt(row.position), row.attempts]));
      const { published, failures } = await publishInOrder(pending.map(fromRaw), publish, inFlight);
      const counted = failures.length > 0 && (await busUp().catch(() => false));
      for (const { event, error } of failures) {
        const reason = error instanceof Error ? error.message : String(error);
        const attempts = (attemptsBefore.get(event.position) ?? 0) + (counted ? 1 : 0);
        if (counted && attempts >= maxAttempts) {
          await tx.query('UPDATE outbox SET attempts = $1::int, last_error = $2, dead_lettered_at = now() WHERE position = $3::bigint', [attempts, reason, String(event.position)]);
          await tx.query(
            `INSERT INTO dead_letters (consumer, kind, event_id, stream_id, version, position, reason, deliveries)
             VALUES ($1, 'unpublished', $2::uuid, $3, $4::int, $5::bigint, $6, $7::int)`,
            [outboxConsumer, event.metadata.eventId, event.streamId, event.version, String(event.position), `not published: ${reason}`, attempts],
          );
          onDeadLetter?.(event, reason, attempts);
        } else {
          await tx.query(
            `UPDATE outbox SET attempts = $1::int, last_error = $2, next_attempt_at = now() + $3::int * interval '1 millisecond' WHERE position = $4::bigint`,
            [attempts, reason, outboxBackoffMs(attempts), String(event.position)],
          );
        }
      }
      // By position, not "everything up to the last one": a lower position can commit late.
      if (published.length > 0)
        await tx.query('UPDATE outbox SET published_at = now() WHERE position = ANY($1::bigint[])', [published.map(String)], 'relay-published');
      return published.length;
    });
  }

  /** Gives a dead-lettered outbox row back to the relay, as if it had never failed. */
  async requeueOutbox(position: bigint): Promise<void> {
    await this.prisma.$executeRaw`
      UPDATE outbox SET attempts = 0, next_attempt_at = NULL, dead_lettered_at = NULL WHERE position = ${position} AND published_at IS NULL`;
  }

  async watchOutbox(onAppend: () => void): Promise<() => Promise<void>> {
    const unlisten = await this.listen(onAppend);
    const stop = async () => {
      this.stops.delete(stop);
      await unlisten();
    };
    this.stops.add(stop);
    return stop;
  }

  async ping(): Promise<void> {
    await this.prisma.$queryRaw`SELECT 1`;
  }

  async close(): Promise<void> {
    await Promise.all([...this.stops].map((stop) => stop()));
    await this.prisma.$disconnect();
    await this.notifier?.close();
    await this.sql.close();
    await this.onClose?.();
  }
}

const NOTIFY_OUTBOX = "SELECT pg_notify('outbox', '')";

/** Wakes the relays: fire and forget, never failing the append that asked. */
export interface Notifier {
  notify(): void;
  close(): Promise<void>;
}

/**
 * Runs `send` at most once at a time; calls while it runs are folded into one more run after it, so a
 * burst of appends costs a couple of notices, and none is lost: a relay woken drains everything committed.
 */
function coalesced(send: () => Promise<void>): () => void {
  let running = false;
  let again = false;
  const run = (): void => {
    running = true;
    again = false;
    void send()
      .catch(() => {}) // the relay's poll finds what a lost notice would have announced
      .finally(() => {
        running = false;
        if (again) run();
      });
  };
  return () => (running ? void (again = true) : run());
}

/**
 * The relays' wake-up, sent after the append has committed, on a connection of its own with
 * synchronous_commit off, rather than as a NOTIFY inside the append. A transaction that notifies takes a
 * database-wide lock at commit and keeps it through its WAL flush, so every appending transaction would
 * wait for the previous one's flush: measured with pgbench on this machine, 8 clients inserting one row
 * each managed 2,306 transactions/s alone and 397/s with a pg_notify in the same transaction. Here the
 * appends group-commit again; the notice is a hint (its loss costs one poll interval), so it need not wait
 * for the disk, and it is coalesced: at most one in flight, and one more for whatever came meanwhile.
 */
export function pgNotifier(url: string): Notifier {
  let client: Promise<pg.Client> | null = null;
  let closed = false;
  const connect = async () => {
    const next = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1500 });
    // A broken or ended connection is replaced at the next notice.
    next.on('error', () => void (client = null));
    next.on('end', () => void (client = null));
    await next.connect();
    await next.query('SET synchronous_commit TO off');
    return next;
  };
  const notify = coalesced(async () => {
    if (closed) return;
    const current = (client ??= connect().catch((error: unknown) => {
      client = null;
      throw error;
    }));
    await (await current).query(NOTIFY_OUTBOX);
  });
  return {
    notify,
    async close() {
      closed = true;
      const current = client;
      client = null;
      await current?.then((c) => c.end()).catch(() => {});
    },
  };
}

/** PGlite runs in this process: its own listen() sees every NOTIFY. */
export function pgliteListen(pglite: PGlite): OutboxListen {
  return (onNotify) => pglite.listen('outbox', () => onNotify());
}

/**
 * LISTEN on a dedicated connection (a pooled one goes back to others). After a drop it reconnects every
 * `retryMs` until it succeeds, then calls `onNotify` once for what was appended while it was away.
 */
export function pgListen(url: string, retryMs = 1_000): OutboxListen {
  return async (onNotify) => {
    let stopped = false;
    let client: pg.Client | undefined;
    let timer: NodeJS.Timeout | undefined;

    const connect = async () => {
      const next = new pg.Client({ connectionString: url });
      next.on('notification', () => onNotify());
      next.on('error', () => {}); // a broken connection also ends, and 'end' reconnects
      try {
        await next.connect();
        await next.query('LISTEN outbox');
      } catch (error) {
        await next.end().catch(() => {});
        throw error;
      }
      if (stopped) return void (await next.end());
      next.once('end', () => !stopped && reconnect());
      client = next;
    };
    const reconnect = () => {
      timer = setTimeout(() => connect().then(() => !stopped && onNotify(), reconnect), retryMs);
    };

    await connect();
    return async () => {
      stopped = true;
      clearTimeout(timer);
      await client?.end();
    };
  };
}

const columns = 'position, stream_id, version, type, schema_version, data, metadata, committed_at';
const prismaColumns = Prisma.raw(columns);
const qualifiedColumns = 'e.position, e.stream_id, e.version, e.type, e.schema_version, e.data, e.metadata, e.committed_at';

/** The version of a stream (`param` names it), archived part included, 0 for none; one statement sees one table or the other. */
const currentVersion = (param: string) => `coalesce(GREATEST(
  (SELECT max(version) FROM events WHERE stream_id = ${param}),
  (SELECT max(version) FROM events_archive WHERE stream_id = ${param})), 0)`;

/** Positions (ascending) and the time (recordedAt) an append with an idempotency claim takes. */
interface Reserved {
  positions: bigint[];
  at: Date;
}

interface RawEvent {
  /** pg answers bigint columns as strings, Prisma as bigint. */
  position: bigint | string;
  stream_id: string;
  version: number;
  type: string;
  schema_version: number;
  data: unknown;
  metadata: unknown;
  committed_at: Date;
}

function fromRaw(row: RawEvent): StoredEvent {
  return {
    position: BigInt(row.position),
    streamId: row.stream_id,
    version: row.version,
    type: row.type,
    schemaVersion: row.schema_version,
    data: row.data,
    metadata: row.metadata as EventMetadata,
    recordedAt: row.committed_at,
  };
}

/** The dead-letter consumer name of outbox rows the relay gave up on. */
export const outboxConsumer = 'outbox-relay';

/** How long a row waits after `attempts` failures: 1 s, doubling, at most a minute. */
export const outboxBackoffMs = (attempts: number) => Math.min(60_000, 1000 * 2 ** Math.max(0, attempts - 1));

export interface RelayOutboxOptions {
  inFlight?: number;
  /** Counted failures after which a row is dead-lettered (default 10). */
  maxAttempts?: number;
  /** Whether the bus answers; a failure while it does not is not counted against the row. */
  busUp?: () => Promise<boolean>;
  onDeadLetter?: (event: StoredEvent, reason: string, attempts: number) => void;
  /**
   * Called just before the batch reads the outbox: every row whose append had committed by then is in
   * what it reads (or waits out a backoff), so a wake-up heard before this call needs no batch of its own.
   */
  beforeRead?: () => void;
}

// A bus that refuses this many events of one batch is down or sick, not faced with bad rows: the rest of
// the batch waits for the next round instead of each waiting out a publish timeout now.
const MAX_FAILURES_PER_BATCH = 8;

/**
 * Publishes `events` (position order) with at most `inFlight` of them on the wire. An event starts only
 * after the one before it in its stream was acknowledged; a failure holds back the rest of its own
 * stream only. `published` is every position acknowledged; `failures` those that were not, in position
 * order (events held back behind a failure are in neither: they were not tried).
 */
export async function publishInOrder(
  events: StoredEvent[],
  publish: (event: StoredEvent) => Promise<void>,
  inFlight: number,
): Promise<{ published: bigint[]; failures: { event: StoredEvent; error: unknown }[] }> {
  const published: bigint[] = [];
  const failures: { event: StoredEvent; error: unknown }[] = [];
  const failedStreams = new Set<string>();
  const perStream = new KeyedQueue();
  const onTheWire = new PQueue({ concurrency: Math.max(1, inFlight) });
  for (const event of events) {
    if (failures.length >= MAX_FAILURES_PER_BATCH) break;
    void onTheWire.add(() =>
      perStream.run(event.streamId, async () => {
        if (failedStreams.has(event.streamId) || failures.length >= MAX_FAILURES_PER_BATCH) return;
        try {
          await publish(event);
          published.push(event.position);
        } catch (error) {
          failures.push({ event, error });
          failedStreams.add(event.streamId);
        }
      }),
    );
    // The next event is taken only once this one has a slot.
    await onTheWire.onSizeLessThan(1);
  }
  await onTheWire.onIdle();
  published.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  failures.sort((a, b) => (a.event.position < b.event.position ? -1 : 1));
  return { published, failures };
}
