import { orderStatuses } from '../domain/order/index.js';
import type { VersionedDoc } from '../ports.js';
import type { OrderDoc, OrderItemDoc } from '../projectors/orderDetails.js';
import { builder } from './builder.js';

export const OrderStatus = builder.enumType('OrderStatus', {
  values: orderStatuses,
});

export const OrderItem = builder.objectRef<OrderItemDoc>('OrderItem').implement({
  fields: (t) => ({
    sku: t.exposeString('sku'),
    name: t.exposeString('name'),
    quantity: t.exposeInt('quantity'),
    unitPriceCents: t.exposeInt('unitPriceCents'),
    lineTotalCents: t.exposeInt('lineTotalCents'),
  }),
});

/** Any read document's freshness; ageMs is measured when the field is resolved. */
export const Freshness = builder.objectRef<Omit<VersionedDoc, 'data'>>('Freshness').implement({
  description: 'How fresh a read document is.',
  fields: (t) => ({
    version: t.exposeInt('version', { description: 'last aggregate version applied to this document' }),
    eventAt: t.field({ type: 'DateTime', description: 'commit time of that event on the write side', resolve: (f) => f.eventAt }),
    projectedAt: t.field({ type: 'DateTime', description: 'when a projector wrote the document', resolve: (f) => f.projectedAt }),
    lagMs: t.float({ description: 'projectedAt - eventAt', resolve: (f) => Date.parse(f.projectedAt) - Date.parse(f.eventAt) }),
    ageMs: t.float({ description: 'now - projectedAt, at response time', resolve: (f) => Date.now() - Date.parse(f.projectedAt) }),
  }),
});

export const Order = builder.objectRef<VersionedDoc<OrderDoc>>('Order').implement({
  fields: (t) => ({
    id: t.id({ resolve: (o) => o.data.id }),
    userId: t.id({ resolve: (o) => o.data.userId }),
    status: t.field({ type: OrderStatus, resolve: (o) => o.data.status }),
    items: t.field({ type: [OrderItem], resolve: (o) => o.data.items }),
    totalCents: t.int({ resolve: (o) => o.data.totalCents }),
    currency: t.string({ resolve: (o) => o.data.currency }),
    createdAt: t.field({ type: 'DateTime', resolve: (o) => o.data.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (o) => o.data.updatedAt }),
    version: t.exposeInt('version'),
    freshness: t.field({ type: Freshness, resolve: (o) => o }),
  }),
});
