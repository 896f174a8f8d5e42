import { evolve as evolveOrder, lineTotalCents, orderEventTypes, orderTotalCents, type OrderState, type OrderStatus } from '../../domain/order/index.js';
import type { Projection } from '../projection.js';
import { orderDetailsCollection } from './keys.js';

export interface OrderItemDoc {
  sku: string;
  name: string;
  quantity: number;
  unitPriceCents: number;
  lineTotalCents: number;
}

export interface OrderDoc {
  id: string;
  userId: string;
  status: OrderStatus;
  currency: string;
  items: OrderItemDoc[];
  totalCents: number;
  createdAt: string;
  updatedAt: string;
}

function toState(doc: OrderDoc | null): OrderState | null {
  if (!doc) return null;
  const items = doc.items.map(({ sku, name, quantity, unitPriceCents }) => ({ sku, name, quantity, unitPriceCents }));
  return { id: doc.id, userId: doc.userId, status: doc.status, currency: doc.currency, items };
}

/** The read document of an order's domain state, which keeps no times: the caller brings them. */
export function toDoc(state: OrderState, createdAt: string, updatedAt: string): OrderDoc {
  // Named fields, not `{ ...item, lineTotalCents }`: adding a field to a spread is V8's slow path on Node 20.
  const items = state.items.map((item) => ({ sku: item.sku, name: item.name, quantity: item.quantity, unitPriceCents: item.unitPriceCents, lineTotalCents: lineTotalCents(item) }));
  const { id, userId, status, currency } = state;
  return { id, userId, status, currency, items, totalCents: orderTotalCents(state.items), createdAt, updatedAt };
}

// The order as clients read it. The domain fold decides what each event does to the order, so the
// view can never disagree with the write side about status or items; the view adds totals and times.
export const orderDetails: Projection<OrderDoc> = {
  name: 'orderDetails',
  collection: orderDetailsCollection,
  recordsReceipts: true,
  handles: orderEventTypes,
  evolve(doc, event) {
    const at = event.recordedAt.toISOString();
    return toDoc(evolveOrder(toState(doc), event)!, doc?.createdAt ?? at, at);
  },
  ownerOf: (doc) => doc.userId,
};
