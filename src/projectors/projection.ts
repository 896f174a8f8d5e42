import type { OrderEvent } from '../domain/order/index.js';
import type { WriteEffects } from '../ports.js';

/** An event as a projection sees it: upcast data plus the facts of its commit. */
export type ProjectedEvent = OrderEvent & { streamId: string; version: number; recordedAt: Date; userId: string };

/**
 * A read model: a pure evolve over the events it handles, one document per order. Every event of the
 * order still moves the document's version (an event it does not handle leaves the data as it is), so
 * the version check sees gaps and duplicates the same way for every read model.
 */
export interface Projection<D> {
  name: string;
  collection: string;
  handles: readonly OrderEvent['type'][];
  /**
   * Raised when the keys or document shape the projection writes change: a read store completed under
   * another layout is not complete for this one, so projectors rebuild it (absent means 1).
   */
  layout?: number;
  evolve(doc: D | null, event: ProjectedEvent): D;
  /** The owner of a document, for per-user change notices. */
  ownerOf(doc: D): string;
  /**
   * What else changes when one order's document goes from `before` to `after` (index entries, counter
   * deltas); pure. Written in the same atomic step as the document, so a duplicate changes nothing.
   */
  effects?(before: D | null, after: D, id: string): WriteEffects;
}
