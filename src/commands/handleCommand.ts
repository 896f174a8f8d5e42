import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { AppError, ConflictError } from '../domain/errors.js';
import { type Caller, decide, evolve, fold, owned, type OrderCommand, type OrderEvent, type OrderState, currentSchemaVersion, upcast } from '../domain/order/index.js';
import { metrics } from '../metrics.js';
import type { Admission } from './admission.js';
import { serialized } from './streamQueue.js';
import { type AppendResult, type EventStore, IdempotencyKeyTakenError, type NewEvent, WrongExpectedVersionError } from '../ports.js';
import { firstResult, type Idempotency, idempotencyOf } from './idempotency.js';

export interface CommandResult {
  orderId: string;
  version: number;
  position: string;
  commandId: string;
  correlationId: string;
  events: string[];
  /** When the store recorded the last event (see StoredEvent.recordedAt), ISO-8601: the APPENDED stage of the command's receipt. */
  recordedAt?: string;
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

/**
 * Load, decide, append, retry: each attempt runs steps 1-5, and step 6 is the one policy that says
 * whether and when another attempt runs. Commands on one order are already queued within this process
 * (streamQueue.ts), so a lost race here is one lost to another process.
 */
async function runCommand(deps: CommandDeps, command: OrderCommand, options: CommandOptions): Promise<CommandResult> {
  const { store } = deps;
  const streamId = command.data.orderId;
  const commandId = randomUUID();
  const idempotency = idempotencyOf(command.type, options);
  // A new order has no stream to load: createOrder presumes none, and the append's expected version 0
  // checks that in the database. When the presumption fails, the order is loaded and decided again,
  // so every answer is the one a load would have given.
  let presumeNew = command.type === 'CreateOrder';
  // A refusal (or a key taken meanwhile) answers only once step 1 has found no first run behind it.
  let refusal: { error: unknown } | null = null;

  for (let lostRaces = 0; ; ) {
    // 1. A repeat of an idempotent command returns the first result and does nothing else. Looked up
    //    again before a refusal is answered: the first run of this very command may have caused it.
    const first = idempotency && (await firstResult<CommandResult>(store, idempotency));
    if (first) return first;
    if (refusal) throw refusal.error;
    const presumed = presumeNew;
    presumeNew = false;

    // 2. Load the stream (from its snapshot on) and fold it into the state decisions need.
    const { state, version } = presumed ? { state: null, version: 0 } : await loadOrder(store, streamId, { useSnapshot: deps.snapshotEvery > 0 });

    // 3. Decide: pure; a refusal is a typed error.
    const decided = decideOrRefuse(command, state, version, options);

    // 4. Append (and 5. snapshot when due).
    const outcome = 'refused' in decided ? decided : await commit(deps, { streamId, commandId, options, idempotency }, version, state, decided);
    if ('result' in outcome) return outcome.result;

    // 6. Not committed: the retry policy says what follows.
    const next = retryPolicy(outcome, { presumed, idempotent: idempotency !== null, pinned: options.expectedVersion != null, streamId });
    if (next === 'recheck') refusal = { error: 'refused' in outcome ? outcome.refused : outcome.appendFailed };
    if (next === 'back off') {
      if (++lostRaces >= deps.maxRetries) throw new ConflictError(`order ${streamId} is too busy; try again`, { attempts: lostRaces });
      metrics.commandRetries.inc({ command: command.type });
      // A random pause, so the losers of one race do not all collide again in the next.
      await sleep(Math.random() * Math.min(10 * 2 ** lostRaces, 1_000));
    }
  }
}

type Setback = { refused: AppError } | { appendFailed: unknown };

/**
 * The retry policy, for every way an attempt can fail to commit:
 * - `reload`: createOrder presumed a new order and the order exists: load it and decide again, at once
 *   and without counting it as a lost race;
 * - `recheck`: a refusal, or an idempotency key taken meanwhile, with an idempotency key: look for the
 *   first run's record once more (step 1) before answering;
 * - `back off`: another process appended first: decide again on the newer state after a pause, a
 *   bounded number of times;
 * anything else is the answer, thrown: a refusal, a CONFLICT for a pinned version, an unexpected error.
 */
function retryPolicy(setback: Setback, attempt: { presumed: boolean; idempotent: boolean; pinned: boolean; streamId: string }): 'reload' | 'recheck' | 'back off' {
  if ('refused' in setback) {
    if (attempt.presumed) return 'reload';
    if (attempt.idempotent) return 'recheck';
    throw setback.refused;
  }
  const error = setback.appendFailed;
  if (error instanceof IdempotencyKeyTakenError) return 'recheck';
  if (!(error instanceof WrongExpectedVersionError)) throw error;
  if (attempt.presumed) return 'reload';
  if (attempt.pinned) throw new ConflictError(`order ${attempt.streamId} changed concurrently`);
  return 'back off';
}

/** The events the command decides on, or the typed error it is refused with. */
function decideOrRefuse(command: OrderCommand, state: OrderState | null, version: number, options: CommandOptions): OrderEvent[] | { refused: AppError } {
  const streamId = command.data.orderId;
  try {
    // Someone else's order does not exist for the caller: not even its version may show in a CONFLICT.
    if (command.type !== 'CreateOrder') owned(state, streamId, options.caller);
    if (options.expectedVersion != null && options.expectedVersion !== version)
      throw new ConflictError(`order ${streamId} is at version ${version}, not ${options.expectedVersion}`, { version });
    return decide(command, state, options.caller);
  } catch (error) {
    if (error instanceof AppError) return { refused: error };
    throw error;
  }
}

/**
 * 4. The events, their outbox rows and the idempotency record in one transaction. 5. Once committed, a
 * snapshot when the stream crossed a multiple of snapshotEvery: outside the transaction, and its failure
 * only logged, since it is an optimisation.
 */
async function commit(
  deps: CommandDeps,
  { streamId, commandId, options, idempotency }: { streamId: string; commandId: string; options: CommandOptions; idempotency: Idempotency | null },
  version: number,
  state: OrderState | null,
  decided: OrderEvent[],
): Promise<{ result: CommandResult } | Setback> {
  const events: NewEvent[] = decided.map((event) => ({
    type: event.type,
    schemaVersion: currentSchemaVersion[event.type],
    data: event.data,
    metadata: { eventId: randomUUID(), commandId, correlationId: options.correlationId, causationId: commandId, userId: options.caller.userId },
  }));
  const claim = idempotency && { ...idempotency, result: (append: AppendResult) => toResult(streamId, commandId, options.correlationId, append) };
  let appended: AppendResult;
  try {
    appended = await deps.store.append(streamId, version, events, claim ?? undefined);
  } catch (error) {
    return { appendFailed: error };
  }
  for (const event of appended.events) metrics.eventsAppended.inc({ type: event.type });
  const every = deps.snapshotEvery;
  if (every > 0 && Math.floor(appended.version / every) > Math.floor(version / every)) {
    await deps.store
      .writeSnapshot(streamId, appended.version, snapshotSchemaVersion, fold(decided, state))
      .catch((error: unknown) => deps.log.warn({ err: error, orderId: streamId, version: appended.version }, 'snapshot not written; loads replay more events until the next one'));
  }
  return { result: toResult(streamId, commandId, options.correlationId, appended) };
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

function toResult(orderId: string, commandId: string, correlationId: string, append: { version: number; position: bigint; events: { type: string; recordedAt: Date }[] }): CommandResult {
  return {
    orderId,
    version: append.version,
    position: append.position.toString(),
    commandId,
    correlationId,
    events: append.events.map((event) => event.type),
    recordedAt: append.events.at(-1)?.recordedAt.toISOString(),
  };
}
