import type { StoredEvent } from '../ports.js';

/** An event a consumer gave up on, with why; stays until a retry applies it. */
export interface DeadLetter {
  id: bigint;
  consumer: string;
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
  /** For each of the consumer's streams with an unresolved letter, the lowest such version. */
  blocked(consumer: string): Promise<Map<string, number>>;
  /** Oldest first. */
  list(options?: { unresolvedOnly?: boolean; ids?: bigint[] }): Promise<DeadLetter[]>;
  markRetried(id: bigint, outcome: { resolved: true } | { resolved: false; reason: string }): Promise<void>;
  /** Unresolved letters per consumer. */
  countUnresolved(): Promise<Record<string, number>>;
}

/** The durable consumer (and dead-letter consumer name) of a projection. */
export const consumerOf = (projectionName: string) => `projector-${projectionName}`;
