import type { OrderStatus } from '../../domain/order/index.js';
import { keyPart } from '../../keys.js';

/** One small document per order, and the sorted indexes below; scored by creation time. */
export const userOrdersCollection = 'userOrder';

/**
 * Index names, relative to the collection; `listOrders` reads them. A user id is a key segment through
 * `keyPart`: with it raw, a `sub` of "alice:status:CREATED" named alice's per-status index.
 */
export const orderIndex = {
  all: 'all',
  byStatus: (status: OrderStatus) => `status:${status}`,
  byUser: (userId: string) => `user:${keyPart(userId)}`,
  byUserAndStatus: (userId: string, status: OrderStatus) => `user:${keyPart(userId)}:status:${status}`,
};
