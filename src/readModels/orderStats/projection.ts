import { evolve as evolveOrder, orderEventTypes, type OrderState, type OrderStatus, orderTotalCents } from '../../domain/order/index.js';
import type { Projection } from '../projection.js';
import { orderStatsCollection, statCounter } from './keys.js';

export type OrderStatDoc = OrderState & { totalCents: number };

/** Statuses whose order total counts as revenue. */
export const revenueStatuses: readonly OrderStatus[] = ['PAID', 'SHIPPED', 'DELIVERED'];

const revenueOf = (doc: OrderStatDoc | null) => (doc && revenueStatuses.includes(doc.status) ? doc.totalCents : 0);

// Order counts per status and revenue. Totals are never recomputed from all orders: each order's
// document change yields deltas (old status and total → new), written in the same atomic step as that
// order's version check, so redelivery and concurrent projectors can neither miss nor double a delta.
export const orderStats: Projection<OrderStatDoc> = {
  name: 'orderStats',
  collection: orderStatsCollection,
  handles: orderEventTypes,
  evolve(doc, event) {
    const { id, userId, status, currency, items } = evolveOrder(doc, event)!;
    // Named fields: a spread plus a new field is V8's slow path on Node 20 (see toProjected).
    return { id, userId, status, currency, items, totalCents: orderTotalCents(items) };
  },
  ownerOf: (doc) => doc.userId,
  effects(before, after) {
    const counters: Record<string, number> = { [statCounter.revenueCents]: revenueOf(after) - revenueOf(before) };
    if (!before) counters[statCounter.orders] = 1;
    if (before?.status !== after.status) {
      counters[statCounter.status(after.status)] = 1;
      if (before) counters[statCounter.status(before.status)] = -1;
    }
    return { counters };
  },
};
