import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { AppError, ConflictError } from '../domain/errors.js';
import { type Caller, decide, evolve, fold, owned, type OrderCommand, type OrderEvent, type OrderState, currentSchemaVersion, upcast } from '../domain/order/index.js';
import { metrics } from '../metrics.js';
import type { Admission } from './admission.js';
import { serialized } from './streamQueue.js';
import {
  type AppendResult,
  type EventStore,
  IdempotencyKeyTakenError,
  type IdempotencyRecord,
  type NewEvent,
  WrongExpectedVersionError,
} from '../ports.js';

export interface CommandResult {
  orderId: string;
  version: number;
  position: string;
  commandId: string;
  correlationId: string;
  events: string[];
  /** Commit time of the last event, ISO-8601: the APPENDED stage of the command's receipt. */
  committedAt?: string;
}

export interface CommandOptions {
  caller: Caller;
  correlationId: string;
  /** Pins the stream version: a mismatch is CONFLICT instead of a retry. */
  expectedVersion?: number | null;
  idempotencyKey?: string | null;
  /** What the caller sent, before any id was generated: what a repeat must match. */
  request: unknown;
}

export interface CommandDeps {
  store: EventStore;
  maxRetries: number;
  /** Snapshot a stream each time its version crosses a multiple of this; 0: no snapshots at all. */
  snapshotEvery: number;
  log: Pick<Logger, 'warn' | 'info'>;
  /** Bounds the commands running and queued in this process; none when omitted. */
  admission?: Admission;
}

/**
 * The shape of `OrderState` stored in snapshots. Bump it whenever that shape or what an upcaster makes
 * of old events changes: snapshots of another format are then ignored (and replaced as streams grow).
 */
export const snapshotSchemaVersion = 1;

/**
 * The one routine every command goes through, timed by command and outcome. Handlers only build the
 * command. Commands on one order queue up within this process (streamQueue.ts); between processes the
 * optimistic concurrency below decides.
 */
export async function handleCommand(deps: CommandDeps, command: OrderCommand, options: CommandOptions): Promise<CommandResult> {
  const done = metrics.commandDuration.startTimer({ command: command.type });
  const facts = { command: command.type, orderId: command.data.orderId, userId: options.caller.userId, correlationId: options.correlationId };
  try {
    const run = () => serialized(deps.store, command.data.orderId, () => runCommand(deps, command, options));
    const result = await (deps.admission ? deps.admission.run(run) : run());
    const seconds = done({ outcome: 'ok' });
    deps.log.info({ ...facts, commandId: result.commandId, version: result.version, ms: Math.round(seconds * 1000) }, 'command handled');
    return result;
  } catch (error) {
    const outcome = error instanceof AppError ? error.code : 'error';
    const seconds = done({ outcome });
    // Expected refusals are the caller's business; anything else is logged in full where it is masked.
    deps.log.info({ ...facts, outcome, reason: error instanceof AppError ? error.message : undefined, ms: Math.round(seconds * 1000) }, 'command refused');
    throw error;
  }
}

async function runCommand(deps: CommandDeps, command: OrderCommand, options: CommandOptions): Promise<CommandResult> {
  const { store } = deps;
  const streamId = command.data.orderId;
  const commandId = randomUUID();
  const requestHash = options.idempotencyKey ? hashRequest(command.type, options.request) : '';
  // A new order has no stream to load: createOrder presumes none, and the append's expected version 0
  // checks that in the database. Whenever the presumption fails (the append conflicts, or the decision
  // or a pinned version refuses), the order is loaded and decided again, without counting a lost race,
  // so every answer is the one a load would have given.
  let presumeNew = command.type === 'CreateOrder';

  for (let attempt = 1; ; attempt++) {
    // 0. A repeat of an idempotent command returns the first result and does nothing else. Asked again
    //    after a lost race, which may have been lost to the first run of this very command.
    if (options.idempotencyKey) {
      const previous = await store.findIdempotency(options.caller.userId, options.idempotencyKey);
      if (previous) return repeatResult(previous, requestHash);
    }

    // 1. Load the stream (from its snapshot on) and fold it into the state decisions need.
    const presumed = presumeNew;
    presumeNew = false;
    const { state, version } = presumed ? { state: null, version: 0 } : await loadOrder(store, streamId, { useSnapshot: deps.snapshotEvery > 0 });

    // 2. Decide: pure, may reject with a typed error.
    let decided: OrderEvent[];
    try {
      // Someone else's order does not exist for the caller: not even its version may show in a CONFLICT.
      if (command.type !== 'CreateOrder') owned(state, streamId, options.caller);
      if (options.expectedVersion != null && options.expectedVersion !== version)
        throw new ConflictError(`order ${streamId} is at version ${version}, not ${options.expectedVersion}`, { version });
      decided = decide(command, state, options.caller);
    } catch (error) {
      if (presumed) {
        attempt--;
        continue;
      }
      // A repeat whose first run committed after step 0 looked sees that run's order, not its record:
      // the refusal would answer the first run's own effect. Look for the record again before refusing.
      if (options.idempotencyKey && error instanceof AppError) {
        const first = await store.findIdempotency(options.caller.userId, options.idempotencyKey);
        if (first) return repeatResult(first, requestHash);
      }
      throw error;
    }
    const events: NewEvent[] = decided.map((event) => ({
      type: event.type,
      schemaVersion: currentSchemaVersion[event.type],
      data: event.data,
      metadata: {
        eventId: randomUUID(),
        commandId,
        correlationId: options.correlationId,
        causationId: commandId,
        userId: options.caller.userId,
      },
    }));

    // 3. Append events, outbox rows and the idempotency record in one transaction.
    let appended: AppendResult;
    try {
      appended = await store.append(
        streamId,
        version,
        events,
        options.idempotencyKey
          ? {
              userId: options.caller.userId,
              key: options.idempotencyKey,
              requestHash,
              result: (append) => toResult(streamId, commandId, options.correlationId, append),
            }
          : undefined,
      );
    } catch (error) {
      // 4. Lost a race: a pinned version is a conflict; otherwise decide again on the newer state, after
      //    a short random pause so the losers of one race do not all collide again in the next.
      if (error instanceof IdempotencyKeyTakenError) {
        const first = await store.findIdempotency(options.caller.userId, error.key);
        if (first) return repeatResult(first, requestHash);
      }
      if (!(error instanceof WrongExpectedVersionError)) throw error;
      if (presumed) {
        attempt--;
        continue;
      }
      if (options.expectedVersion != null) throw new ConflictError(`order ${streamId} changed concurrently`);
      if (attempt >= deps.maxRetries) throw new ConflictError(`order ${streamId} is too busy; try again`, { attempts: attempt });
      metrics.commandRetries.inc({ command: command.type });
      await sleep(Math.random() * Math.min(10 * 2 ** attempt, 1_000));
      continue;
    }

    // 5. Committed. A snapshot when the stream crossed a multiple of snapshotEvery: outside the
    //    transaction, and its failure only logged, since it is an optimisation.
    for (const event of appended.events) metrics.eventsAppended.inc({ type: event.type });
    const every = deps.snapshotEvery;
    if (every > 0 && Math.floor(appended.version / every) > Math.floor(version / every)) {
      await store
        .writeSnapshot(streamId, appended.version, snapshotSchemaVersion, fold(decided, state))
        .catch((error: unknown) => deps.log.warn({ err: error, orderId: streamId, version: appended.version }, 'snapshot not written; loads replay more events until the next one'));
    }
    return toResult(streamId, commandId, options.correlationId, appended);
  }
}

/** The state and version of an order: from its snapshot (when usable) plus the events after it. */
export async function loadOrder(
  store: EventStore,
  streamId: string,
  { useSnapshot = true }: { useSnapshot?: boolean } = {},
): Promise<{ state: OrderState | null; version: number }> {
  const snapshot = useSnapshot ? await store.readSnapshot(streamId) : null;
  const usable = snapshot?.schemaVersion === snapshotSchemaVersion ? snapshot : null;
  let state = (usable?.state as OrderState | undefined) ?? null;
  let version = usable?.version ?? 0;
  for (const stored of await store.readStream(streamId, version + 1)) {
    state = evolve(state, upcast(stored.type, stored.schemaVersion, stored.data));
    version = stored.version;
  }
  return { state, version };
}

function toResult(orderId: string, commandId: string, correlationId: string, append: { version: number; position: bigint; events: { type: string; committedAt: Date }[] }): CommandResult {
  return {
    orderId,
    version: append.version,
    position: append.position.toString(),
    commandId,
    correlationId,
    events: append.events.map((event) => event.type),
    committedAt: append.events.at(-1)?.committedAt.toISOString(),
  };
}

function repeatResult(record: IdempotencyRecord, requestHash: string): CommandResult {
  if (record.requestHash !== requestHash) throw new ConflictError('idempotency key already used with different input');
  return record.result as CommandResult;
}

function hashRequest(type: string, request: unknown): string {
  return createHash('sha256').update(stableJson({ type, request })).digest('hex');
}

/** JSON with sorted keys, so the same input hashes the same whatever the key order. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`)
      .join(',')}}`;
  return JSON.stringify(value);
}
