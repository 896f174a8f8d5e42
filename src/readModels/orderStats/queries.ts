import { type OrderStatus, orderStatuses } from '../../domain/order/index.js';
import type { IndexReader } from '../../ports.js';
import { orderStatsCollection, statCounter } from './keys.js';

export interface OrderStatsAnswer {
  totalOrders: number;
  revenueCents: number;
  byStatus: { status: OrderStatus; count: number }[];
  /** `version` counts the events folded in; null before the first. */
  freshness: { version: number; eventAt: string; projectedAt: string } | null;
}

/** Counts per status and revenue (totals of orders in PAID, SHIPPED or DELIVERED). */
export async function orderStats(readStore: IndexReader): Promise<OrderStatsAnswer> {
  const { values, events, eventAt, projectedAt } = await readStore.counters(orderStatsCollection);
  return {
    totalOrders: values[statCounter.orders] ?? 0,
    revenueCents: values[statCounter.revenueCents] ?? 0,
    byStatus: orderStatuses.map((status) => ({ status, count: values[statCounter.status(status)] ?? 0 })),
    freshness: eventAt && projectedAt ? { version: events, eventAt, projectedAt } : null,
  };
}
