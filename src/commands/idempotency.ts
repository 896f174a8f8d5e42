import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { ConflictError } from '../domain/errors.js';
import type { EventStore } from '../ports.js';

/** What a command with an idempotency key claims, and how its repeats are recognised. */
export interface Idempotency {
  userId: string;
  key: string;
  /** sha256 of the command type and what the caller sent: a repeat must match it. */
  requestHash: string;
}

export function idempotencyOf(type: string, options: { caller: { userId: string }; idempotencyKey?: string | null; request: unknown }): Idempotency | null {
  if (!options.idempotencyKey) return null;
  return { userId: options.caller.userId, key: options.idempotencyKey, requestHash: hashRequest(type, options.request) };
}

/** The first run's result when this key was used before; CONFLICT when it was used with other input. */
export async function firstResult<Result>(store: EventStore, idempotency: Idempotency): Promise<Result | null> {
  const record = await store.findIdempotency(idempotency.userId, idempotency.key);
  if (!record) return null;
  if (record.requestHash !== idempotency.requestHash) throw new ConflictError('idempotency key already used with different input');
  return record.result as Result;
}

/**
 * RFC 8785 canonical JSON, so the same input hashes the same whatever its key order. For the inputs
 * commands take (strings, which input validation keeps well-formed, integers, objects, arrays) it is
 * byte for byte the sorted-key JSON that earlier releases hashed, so stored hashes still match.
 */
export function hashRequest(type: string, request: unknown): string {
  return createHash('sha256').update(canonicalize({ type, request })!).digest('hex');
}
