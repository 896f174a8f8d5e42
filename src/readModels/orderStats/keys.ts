import type { OrderStatus } from '../../domain/order/index.js';

/** One document per order (its status and total, for the deltas), and one counters hash for them all. */
export const orderStatsCollection = 'orderStat';

/** Counter names in the collection's counters. */
export const statCounter = {
  orders: 'orders',
  revenueCents: 'revenueCents',
  status: (status: OrderStatus) => `status:${status}`,
};
