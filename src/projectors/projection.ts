import type { OrderEvent } from '../domain/order/index.js';

/** An event as a projection sees it: upcast data plus the facts of its commit. */
export type ProjectedEvent = OrderEvent & { streamId: string; version: number; committedAt: Date; userId: string };

/** A read model: a pure evolve over the events it handles, one document per order. */
export interface Projection<D> {
  name: string;
  collection: string;
  handles: readonly OrderEvent['type'][];
  evolve(doc: D | null, event: ProjectedEvent): D;
  /** The owner of a document, for per-user change notices. */
  ownerOf(doc: D): string;
}
