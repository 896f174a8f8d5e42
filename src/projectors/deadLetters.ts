import { createHash } from 'node:crypto';
import type { StoredEvent } from '../ports.js';

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

/** The durable consumer (and dead-letter consumer name) of a projection. */
export const consumerOf = (projectionName: string) => `projector-${projectionName}`;

/** A rejected message has no trustworthy event id: its letter is keyed by a UUID derived from where it sat on the bus. */
export function rejectedLetterId(consumer: string, messageKey: string): string {
  const hex = createHash('sha256').update(`${consumer}\0${messageKey}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
