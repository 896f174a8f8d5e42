// What must hold after every fault, checked with the load paused:
//  - the outbox drains;
//  - every read document (each projection the projector role runs) equals the fold of its stream, read
//    through the ports (EventStore.readAll, ReadStore.getMany), so key layouts may change under us;
//  - the statistics equal a recount (skipped, with a note, when no projector maintains orderStats);
//  - every acknowledged command's events are in Postgres, nothing is half-written, no effect happened
//    twice, item quantities equal the sum of the adds that took effect;
// and lists the dead letters with their reasons.
import pg from 'pg';
import { createEventStore } from '../src/infrastructure/postgres/eventStore.js';
import type { RedisTarget } from '../src/infrastructure/redis/connection.js';
import { RedisReadStore } from '../src/infrastructure/redis/redisReadStore.js';
import type { EventStore, StoredEvent } from '../src/ports.js';
import type { OrderStatus } from '../src/domain/order/index.js';
import { orderDetails } from '../src/readModels/orderDetails/projection.js';
import { orderStats, revenueStatuses } from '../src/readModels/orderStats/projection.js';
import { statCounter } from '../src/readModels/orderStats/keys.js';
import { type Projection, toProjected } from '../src/readModels/projection.js';
import { projections } from '../src/readModels/index.js';
import type { Intent, Ledger } from './load.js';
import { describe, sleep } from './util.js';

export interface StatsModel {
  collection: string;
  orders: string;
  revenueCents: string;
  status: (status: string) => string;
  revenueStatuses: readonly string[];
}

/**
 * The read models to check: every projection the projector role runs, and the statistics of orderStats.
 * Whether a running projector maintains those is decided at the baseline (see `checkStats`).
 */
export function loadReadModels(): { projections: Projection<unknown>[]; stats: StatsModel; notes: string[] } {
  return {
    projections: [...projections],
    stats: { collection: orderStats.collection, ...statCounter, status: (status) => statCounter.status(status as OrderStatus), revenueStatuses },
    notes: [],
  };
}

export interface Mismatch {
  projection: string;
  id: string;
  kind: 'missing' | 'behind' | 'ahead' | 'different';
  want: { version: number; eventAt: string; data?: unknown };
  got: { version: number; eventAt: string; data?: unknown } | null;
}

export interface ConvergenceResult {
  converged: boolean;
  /** From the start of the check: outbox empty, documents equal, statistics equal. */
  outboxDrainedMs: number | null;
  documentsMs: number | null;
  statsMs: number | null;
  outboxPending: number;
  streams: number;
  events: number;
  mismatches: { total: number; byKind: Record<string, number>; byProjection: Record<string, number>; examples: Mismatch[] };
  stats: { checked: boolean; equal?: boolean; note?: string; want?: Record<string, number>; got?: Record<string, number> };
  /** The last error met while polling (a store still coming back), if any. */
  lastError?: string;
  /** When the outbox did not drain: its unpublished rows grouped by the relay's last error, most attempted first. */
  outboxStuck?: { lastError: string | null; rows: number; maxAttempts: number; oldest: string }[];
}

export interface IntegrityResult {
  acknowledged: number;
  lost: { intent: string; op: string; orderId: string | null; commandId: string; why: string }[];
  duplicated: { intent: string; op: string; why: string }[];
  halfWritten: string[];
  refusedButApplied: { intent: string; op: string; code?: string }[];
  acceptedInvalid: { intent: string; op: string; orderId: string | null }[];
  quantityMismatches: { orderId: string; sku: string; want: number; got: number }[];
  unknown: { total: number; applied: number; notApplied: number };
  /** Events whose correlation id is none of ours: the service wrote something nobody asked for. */
  foreignEvents: number;
}

export interface DeadLetterRow {
  consumer: string;
  streamId: string;
  version: number;
  reason: string;
  deliveries: number;
  failedAt: string;
  resolved: boolean;
}

const canonical = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  return JSON.stringify(value);
};

export class Checker {
  readonly store: EventStore & { close(): Promise<void> };
  readonly readStore: RedisReadStore;
  private readonly pool: pg.Pool;
  private statsPresent: boolean | null = null;

  constructor(
    databaseUrl: string,
    redis: { url: RedisTarget; prefix: string },
    private readonly models: { projections: Projection<unknown>[]; stats: StatsModel | null },
  ) {
    this.store = createEventStore({ url: databaseUrl });
    this.readStore = new RedisReadStore(redis);
    this.pool = new pg.Pool({ connectionString: databaseUrl, max: 2, connectionTimeoutMillis: 3000 });
    this.pool.on('error', () => {});
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.store.close(), this.readStore.close(), this.pool.end()]);
  }

  async outboxPending(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>('SELECT count(*) AS n FROM outbox WHERE published_at IS NULL');
    return Number(rows[0]!.n);
  }

  private async outboxStuck(): Promise<NonNullable<ConvergenceResult['outboxStuck']>> {
    const { rows } = await this.pool.query<{ last_error: string | null; n: string; attempts: number; oldest: Date }>(
      'SELECT last_error, count(*) AS n, max(attempts) AS attempts, min(created_at) AS oldest FROM outbox WHERE published_at IS NULL GROUP BY last_error ORDER BY max(attempts) DESC, count(*) DESC LIMIT 10',
    );
    return rows.map((row) => ({ lastError: row.last_error, rows: Number(row.n), maxAttempts: row.attempts, oldest: row.oldest.toISOString() }));
  }

  /** One comparison of every document, for a report when the outbox never drained. */
  private async compareOnce(result: ConvergenceResult): Promise<void> {
    const { streams, events } = await this.loadStreams();
    result.streams = streams.size;
    result.events = events.length;
    const expected = this.expectedDocuments(streams);
    result.mismatches = summarize(await this.compare(expected, new Map([...expected].map(([name, docs]) => [name, new Set(docs.keys())]))));
    await this.checkStats(expected, result);
  }

  /** Every event of the store (both tables), by stream in version order. */
  async loadStreams(): Promise<{ streams: Map<string, StoredEvent[]>; events: StoredEvent[] }> {
    const events: StoredEvent[] = [];
    for (let after = 0n; ; ) {
      const page = await this.store.readAll(after, 5000);
      if (page.length === 0) break;
      events.push(...page);
      after = page.at(-1)!.position;
    }
    const streams = new Map<string, StoredEvent[]>();
    for (const event of events) {
      const list = streams.get(event.streamId);
      if (list) list.push(event);
      else streams.set(event.streamId, [event]);
    }
    for (const list of streams.values()) list.sort((a, b) => a.version - b.version);
    return { streams, events };
  }

  private async headSignature(): Promise<string> {
    const { rows } = await this.pool.query<{ head: string | null; n: string }>(
      'SELECT GREATEST((SELECT max(position) FROM events), (SELECT max(position) FROM events_archive))::text AS head, ((SELECT count(*) FROM events) + (SELECT count(*) FROM events_archive))::text AS n',
    );
    return `${rows[0]!.head}/${rows[0]!.n}`;
  }

  /**
   * Waits (until `deadline`, epoch ms) for the outbox to drain and the read side to equal the fold of the
   * event store. The event log is reloaded whenever it changed: a request the client gave up on may
   * still commit after the load paused.
   */
  async converge(deadline: number): Promise<ConvergenceResult> {
    const started = Date.now();
    const result: ConvergenceResult = {
      converged: false,
      outboxDrainedMs: null,
      documentsMs: null,
      statsMs: null,
      outboxPending: -1,
      streams: 0,
      events: 0,
      mismatches: { total: 0, byKind: {}, byProjection: {}, examples: [] },
      stats: { checked: false },
    };
    for (;;) {
      result.outboxPending = await this.outboxPending().catch(() => -1);
      if (result.outboxPending === 0) break;
      if (Date.now() > deadline) {
        result.outboxStuck = await this.outboxStuck().catch((error: unknown) => [{ lastError: `could not read the outbox: ${describe(error)}`, rows: 0, maxAttempts: 0, oldest: '' }]);
        // Still compare the documents once, so the report shows what the read side looks like.
        await this.compareOnce(result).catch((error: unknown) => void (result.lastError = describe(error)));
        return result;
      }
      await sleep(200);
    }
    result.outboxDrainedMs = Date.now() - started;

    let signature = '';
    let expected = new Map<string, Map<string, { version: number; eventAt: string; data: unknown }>>();
    let pending = new Map<string, Set<string>>();
    const everything = () => new Map([...expected].map(([name, docs]) => [name, new Set(docs.keys())]));
    const only = (mismatches: Mismatch[]) => {
      const ids = new Map<string, Set<string>>();
      for (const mismatch of mismatches) ids.set(mismatch.projection, (ids.get(mismatch.projection) ?? new Set()).add(mismatch.id));
      return ids;
    };
    // Documents and statistics are polled together, so a report shows both when either stays wrong.
    for (;;) {
      try {
        const now = await this.headSignature();
        if (now !== signature) {
          const { streams, events } = await this.loadStreams();
          signature = now;
          result.streams = streams.size;
          result.events = events.length;
          expected = this.expectedDocuments(streams);
          pending = everything();
          result.documentsMs = null;
        }
        if (result.documentsMs === null) {
          let mismatches = await this.compare(expected, pending);
          // Once all match, one full pass more: nothing that matched may have moved since.
          if (mismatches.length === 0) mismatches = await this.compare(expected, everything());
          result.mismatches = summarize(mismatches);
          pending = only(mismatches);
          if (mismatches.length === 0) result.documentsMs = Date.now() - started;
        }
        const statsOk = await this.checkStats(expected, result);
        if (statsOk && result.statsMs === null && result.stats.checked) result.statsMs = Date.now() - started;
        if (result.documentsMs !== null && statsOk) break;
      } catch (error) {
        result.lastError = describe(error);
      }
      if (Date.now() > deadline) return result;
      await sleep(250);
    }
    result.converged = true;
    return result;
  }

  /** True when the statistics equal a recount, or when this build has none to check (then says why). */
  private async checkStats(expected: Map<string, Map<string, { data: unknown }>>, result: ConvergenceResult): Promise<boolean> {
    const stats = this.models.stats;
    const absent = 'orderStats exists in code but no projector maintains it (no counters after the first events)';
    if (!stats) {
      result.stats = { checked: false, note: 'no orderStats read model in this build' };
      return true;
    }
    if (this.statsPresent === false) {
      result.stats = { checked: false, note: absent };
      return true;
    }
    const counters = await this.readStore.counters(stats.collection);
    if (this.statsPresent === null) {
      // Decided once, at the baseline: afterwards empty counters mean lost counters, not a missing read model.
      this.statsPresent = counters.events > 0 || Object.keys(counters.values).length > 0;
      if (!this.statsPresent) return this.checkStats(expected, result);
    }
    const want = this.recount(expected.get(orderDetails.name));
    const got = Object.fromEntries(Object.entries(counters.values).filter(([, value]) => value !== 0));
    const equal = canonical(got) === canonical(want);
    result.stats = { checked: true, equal, want, got };
    return equal;
  }

  private expectedDocuments(streams: Map<string, StoredEvent[]>) {
    const all = new Map<string, Map<string, { version: number; eventAt: string; data: unknown }>>();
    for (const projection of this.models.projections) {
      const docs = new Map<string, { version: number; eventAt: string; data: unknown }>();
      for (const [id, events] of streams) {
        let doc: unknown = null;
        for (const event of events) if (projection.handles.includes(event.type as never)) doc = projection.evolve(doc, toProjected(event));
        const last = events.at(-1);
        if (last && doc !== null) docs.set(id, { version: last.version, eventAt: last.recordedAt.toISOString(), data: doc });
      }
      all.set(projection.name, docs);
    }
    return all;
  }

  private async compare(expected: Map<string, Map<string, { version: number; eventAt: string; data: unknown }>>, which: Map<string, Set<string>>): Promise<Mismatch[]> {
    const found: Mismatch[] = [];
    for (const projection of this.models.projections) {
      const want = expected.get(projection.name)!;
      const ids = [...(which.get(projection.name) ?? [])];
      for (let i = 0; i < ids.length; i += 500) {
        const chunk = ids.slice(i, i + 500);
        const docs = await this.readStore.getMany(projection.collection, chunk);
        chunk.forEach((id, j) => {
          const w = want.get(id)!;
          const g = docs[j];
          const got = g ? { version: g.version, eventAt: g.eventAt, data: g.data } : null;
          let kind: Mismatch['kind'] | null = null;
          if (!got) kind = 'missing';
          else if (got.version < w.version) kind = 'behind';
          else if (got.version > w.version) kind = 'ahead';
          else if (got.eventAt !== w.eventAt || canonical(got.data) !== canonical(w.data)) kind = 'different';
          if (kind) found.push({ projection: projection.name, id, kind, want: w, got });
        });
      }
    }
    return found;
  }

  private recount(details: Map<string, { data: unknown }> | undefined): Record<string, number> {
    const stats = this.models.stats!;
    const want: Record<string, number> = {};
    const add = (key: string, by: number) => (want[key] = (want[key] ?? 0) + by);
    for (const { data } of details?.values() ?? []) {
      const { status, totalCents } = data as { status: string; totalCents: number };
      add(stats.orders, 1);
      add(stats.status(status), 1);
      if (stats.revenueStatuses.includes(status)) add(stats.revenueCents, totalCents);
    }
    return Object.fromEntries(Object.entries(want).filter(([, value]) => value !== 0));
  }

  async deadLetters(): Promise<DeadLetterRow[]> {
    const { rows } = await this.pool
      .query<{ consumer: string; stream_id: string; version: number; reason: string; deliveries: number; failed_at: Date; resolved_at: Date | null }>(
        'SELECT consumer, stream_id, version, reason, deliveries, failed_at, resolved_at FROM dead_letters ORDER BY id',
      )
      .catch((error: unknown) => {
        if (/relation "dead_letters" does not exist/.test(describe(error))) return { rows: [] };
        throw error;
      });
    return rows.map((row) => ({ consumer: row.consumer, streamId: row.stream_id, version: row.version, reason: row.reason, deliveries: row.deliveries, failedAt: row.failed_at.toISOString(), resolved: row.resolved_at !== null }));
  }

  /** The ledger against the event store: lost, doubled, half-written, refused-but-applied. */
  async integrity(ledger: Ledger): Promise<IntegrityResult> {
    const { streams, events } = await this.loadStreams();
    const result: IntegrityResult = {
      acknowledged: 0,
      lost: [],
      duplicated: [],
      halfWritten: [],
      refusedButApplied: [],
      acceptedInvalid: [],
      quantityMismatches: [],
      unknown: { total: 0, applied: 0, notApplied: 0 },
      foreignEvents: 0,
    };

    // The store itself: one event per (stream, version) and per id, versions without gaps.
    const seenIds = new Set<string>();
    for (const [id, list] of streams) {
      list.forEach((event, i) => {
        if (event.version !== i + 1) {
          const duplicate = list.filter((other) => other.version === event.version).length > 1;
          if (duplicate) result.duplicated.push({ intent: '-', op: event.type, why: `stream ${id} holds version ${event.version} twice` });
          else result.halfWritten.push(`stream ${id}: version ${event.version} at index ${i + 1} (a gap)`);
        }
        if (seenIds.has(event.metadata.eventId)) result.duplicated.push({ intent: '-', op: event.type, why: `event id ${event.metadata.eventId} stored twice` });
        seenIds.add(event.metadata.eventId);
      });
    }
    const { rows: orphans } = await this.pool.query<{ n: string }>('SELECT count(*) AS n FROM events e LEFT JOIN outbox o ON o.position = e.position WHERE o.position IS NULL');
    if (Number(orphans[0]!.n) > 0) result.halfWritten.push(`${orphans[0]!.n} events without their outbox row`);

    const byCorrelation = new Map<string, StoredEvent[]>();
    const byCommand = new Map<string, StoredEvent[]>();
    for (const event of events) {
      const { correlationId, commandId } = event.metadata;
      byCorrelation.set(correlationId, [...(byCorrelation.get(correlationId) ?? []), event]);
      byCommand.set(commandId, [...(byCommand.get(commandId) ?? []), event]);
    }
    const ours = new Set(ledger.intents.flatMap((intent) => intent.attempts.map((attempt) => attempt.correlationId)));
    result.foreignEvents = events.filter((event) => !ours.has(event.metadata.correlationId)).length;

    // Streams made by each create, found by the intent id its first item carries.
    const createdBy = new Map<string, Set<string>>();
    for (const [id, list] of streams) {
      const first = list[0];
      if (first?.type !== 'OrderCreated') continue;
      const name = (first.data as { items?: { name: string }[] }).items?.[0]?.name ?? '';
      const intent = /intent ([0-9a-f-]{36})/.exec(name)?.[1];
      if (intent) createdBy.set(intent, (createdBy.get(intent) ?? new Set()).add(id));
    }

    const { rows: keys } = await this.pool.query<{ user_id: string; key: string; result: { commandId?: string; orderId?: string } }>('SELECT user_id, key, result FROM idempotency_records');
    const records = new Map(keys.map((row) => [`${row.user_id}\u0000${row.key}`, row.result]));
    for (const row of keys) {
      const commandId = row.result?.commandId;
      const committed = commandId ? byCommand.get(commandId) : undefined;
      if (!committed?.length) result.halfWritten.push(`idempotency record ${row.user_id}/${row.key} names command ${commandId}, which has no events`);
      else if (committed.some((event) => event.streamId !== row.result.orderId)) result.halfWritten.push(`idempotency record ${row.user_id}/${row.key} names order ${row.result.orderId}, its events are elsewhere`);
    }

    // Quantities each stream should hold: the items of every create and add that took effect.
    const wantQuantities = new Map<string, Map<string, number>>();
    const tookEffect = (intent: Intent, orderId: string) => {
      for (const item of intent.items) {
        const skus = wantQuantities.get(orderId) ?? new Map<string, number>();
        skus.set(item.sku, (skus.get(item.sku) ?? 0) + item.quantity);
        wantQuantities.set(orderId, skus);
      }
    };

    for (const intent of ledger.intents) {
      // What its attempts wrote, by command: one command is one effect.
      const written = intent.attempts.flatMap((attempt) => byCorrelation.get(attempt.correlationId) ?? []);
      const commands = new Set(written.map((event) => event.metadata.commandId));
      const orderId = intent.result?.orderId ?? intent.orderId ?? written[0]?.streamId ?? null;
      if (commands.size > 1) result.duplicated.push({ intent: intent.id, op: intent.op, why: `${commands.size} commands took effect (${[...commands].join(', ')})` });
      if (intent.ackedCommandIds.length > 1) result.duplicated.push({ intent: intent.id, op: intent.op, why: `acknowledged with ${intent.ackedCommandIds.length} different commandIds` });
      if (intent.op === 'createOrder' && (createdBy.get(intent.id)?.size ?? 0) > 1)
        result.duplicated.push({ intent: intent.id, op: intent.op, why: `${createdBy.get(intent.id)!.size} streams created (${[...createdBy.get(intent.id)!].join(', ')})${intent.key ? ` under one idempotency key` : ''}` });
      if (intent.key && commands.size > 0) {
        const record = records.get(`${intent.caller}\u0000${intent.key}`);
        if (!record) result.halfWritten.push(`intent ${intent.id}: events of a keyed ${intent.op} but no idempotency record`);
        else if (!commands.has(record.commandId ?? '')) result.halfWritten.push(`intent ${intent.id}: idempotency record names ${record.commandId}, events are of ${[...commands].join(', ')}`);
      }

      if (intent.status === 'acked') {
        result.acknowledged++;
        const { commandId, version, events: types } = intent.result!;
        const stored = byCommand.get(commandId) ?? [];
        const why = !stored.length
          ? 'no event with its commandId'
          : stored.some((event) => event.streamId !== intent.result!.orderId)
            ? `events in stream ${stored[0]!.streamId}, not ${intent.result!.orderId}`
            : Math.max(...stored.map((event) => event.version)) !== version || stored.length !== types.length
              ? `stored versions ${stored.map((event) => event.version).join(',')}, acknowledged version ${version} with ${types.length} events`
              : null;
        if (why) result.lost.push({ intent: intent.id, op: intent.op, orderId: intent.result!.orderId, commandId, why });
        if (intent.invalid) result.acceptedInvalid.push({ intent: intent.id, op: intent.op, orderId });
        if (orderId) tookEffect(intent, orderId);
      } else if (intent.status === 'rejected') {
        if (commands.size > 0) result.refusedButApplied.push({ intent: intent.id, op: intent.op, code: intent.attempts.at(-1)?.code });
        if (commands.size > 0 && orderId) tookEffect(intent, orderId);
      } else if (intent.status === 'unknown') {
        result.unknown.total++;
        if (commands.size > 0) {
          result.unknown.applied++;
          if (orderId) tookEffect(intent, orderId);
        } else result.unknown.notApplied++;
      }
    }

    for (const [orderId, want] of wantQuantities) {
      const list = streams.get(orderId);
      if (!list) continue; // a create that never took effect: nothing to hold
      const state = list.reduce<unknown>((doc, event) => (orderDetails.handles.includes(event.type as never) ? orderDetails.evolve(doc as never, toProjected(event)) : doc), null) as {
        items: { sku: string; quantity: number }[];
      } | null;
      const got = new Map((state?.items ?? []).map((item) => [item.sku, item.quantity]));
      for (const sku of new Set([...want.keys(), ...got.keys()])) {
        if ((want.get(sku) ?? 0) !== (got.get(sku) ?? 0)) result.quantityMismatches.push({ orderId, sku, want: want.get(sku) ?? 0, got: got.get(sku) ?? 0 });
      }
    }
    return result;
  }
}

function summarize(mismatches: Mismatch[]): ConvergenceResult['mismatches'] {
  const byKind: Record<string, number> = {};
  const byProjection: Record<string, number> = {};
  for (const mismatch of mismatches) {
    byKind[mismatch.kind] = (byKind[mismatch.kind] ?? 0) + 1;
    byProjection[mismatch.projection] = (byProjection[mismatch.projection] ?? 0) + 1;
  }
  // Examples keep only versions (documents can be long): one per kind and projection first.
  const examples: Mismatch[] = [];
  const seen = new Set<string>();
  for (const mismatch of mismatches) {
    const key = `${mismatch.projection}/${mismatch.kind}`;
    if (seen.has(key) && examples.length >= 3) continue;
    seen.add(key);
    if (examples.length < 8) examples.push(mismatch);
  }
  return { total: mismatches.length, byKind, byProjection, examples };
}
