import { createHash, randomUUID } from 'node:crypto';
import { ConflictError } from '../domain/errors.js';
import { type Caller, decide, evolve, type OrderCommand, type OrderState, currentSchemaVersion, upcast } from '../domain/order/index.js';
import {
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
}

/** The one routine every command goes through. Handlers only build the command. */
export async function handleCommand(deps: CommandDeps, command: OrderCommand, options: CommandOptions): Promise<CommandResult> {
  const { store } = deps;
  const streamId = command.data.orderId;
  const commandId = randomUUID();
  const requestHash = options.idempotencyKey ? hashRequest(command.type, options.request) : '';

  // 0. A repeat of an idempotent command returns the first result and does nothing else.
  if (options.idempotencyKey) {
    const previous = await store.findIdempotency(options.caller.userId, options.idempotencyKey);
    if (previous) return repeatResult(previous, requestHash);
  }

  for (let attempt = 1; ; attempt++) {
    // 1. Load the stream and fold it into the state decisions need.
    const { state, version } = await loadOrder(store, streamId);
    if (options.expectedVersion != null && options.expectedVersion !== version)
      throw new ConflictError(`order ${streamId} is at version ${version}, not ${options.expectedVersion}`, { version });

    // 2. Decide: pure, may reject with a typed error.
    const decided = decide(command, state, options.caller);
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
    try {
      const appended = await store.append(
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
      return toResult(streamId, commandId, options.correlationId, appended);
    } catch (error) {
      // 4. Lost a race: a pinned version is a conflict; otherwise decide again on the newer state.
      if (error instanceof IdempotencyKeyTakenError) {
        const first = await store.findIdempotency(options.caller.userId, error.key);
        if (first) return repeatResult(first, requestHash);
      }
      if (!(error instanceof WrongExpectedVersionError)) throw error;
      if (options.expectedVersion != null) throw new ConflictError(`order ${streamId} changed concurrently`);
      if (attempt >= deps.maxRetries) throw new ConflictError(`order ${streamId} is too busy; try again`, { attempts: attempt });
    }
  }
}

export async function loadOrder(store: EventStore, streamId: string): Promise<{ state: OrderState | null; version: number }> {
  let state: OrderState | null = null;
  let version = 0;
  for (const stored of await store.readStream(streamId)) {
    state = evolve(state, upcast(stored.type, stored.schemaVersion, stored.data));
    version = stored.version;
  }
  return { state, version };
}

function toResult(orderId: string, commandId: string, correlationId: string, append: { version: number; position: bigint; events: { type: string }[] }): CommandResult {
  return {
    orderId,
    version: append.version,
    position: append.position.toString(),
    commandId,
    correlationId,
    events: append.events.map((event) => event.type),
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
