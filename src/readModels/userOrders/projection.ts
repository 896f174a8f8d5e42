import type { OrderStatus } from '../../domain/order/index.js';
import type { IndexChange } from '../../ports.js';
import type { Projection } from '../projection.js';
import { orderIndex, userOrdersCollection } from './keys.js';

export interface UserOrderDoc {
  userId: string;
  status: OrderStatus;
  createdAt: string;
}

const statusAfter = {
  OrderConfirmed: 'CONFIRMED',
  OrderPaid: 'PAID',
  OrderShipped: 'SHIPPED',
  OrderDelivered: 'DELIVERED',
  OrderCancelled: 'CANCELLED',
} as const satisfies Record<string, OrderStatus>;

// Which orders exist, whose they are and in which status: sorted indexes newest first (scored by the
// creation time) per user, per status, per user and status, and of all orders. The document is only the
// little the indexes need to move an order from one status index to the next.
export const userOrders: Projection<UserOrderDoc> = {
  name: 'userOrders',
  collection: userOrdersCollection,
  // 2: user ids encoded in index names. A store projected with an older layout is rebuilt at start.
  layout: 2,
  handles: ['OrderCreated', ...(Object.keys(statusAfter) as (keyof typeof statusAfter)[])],
  evolve(doc, event) {
    if (event.type === 'OrderCreated') return { userId: event.data.userId, status: 'CREATED', createdAt: event.recordedAt.toISOString() };
    if (!doc) throw new Error(`${event.type} before OrderCreated`);
    if (event.type in statusAfter) return { ...doc, status: statusAfter[event.type as keyof typeof statusAfter] };
    return doc;
  },
  ownerOf: (doc) => doc.userId,
  effects(before, after, id) {
    if (before && before.status === after.status) return {};
    const score = Date.parse(after.createdAt);
    const add = (index: string): IndexChange => ({ index, member: id, score });
    const indexes: IndexChange[] = [add(orderIndex.byStatus(after.status)), add(orderIndex.byUserAndStatus(after.userId, after.status))];
    if (before) {
      indexes.push({ index: orderIndex.byStatus(before.status), member: id, remove: true });
      indexes.push({ index: orderIndex.byUserAndStatus(before.userId, before.status), member: id, remove: true });
    } else {
      indexes.push(add(orderIndex.all), add(orderIndex.byUser(after.userId)));
    }
    return { indexes };
  },
};
