import { ValidationError } from '../../domain/errors.js';
import type { VersionedDoc } from '../../ports.js';
import { builder } from '../../schema/builder.js';
import { requireService } from '../../schema/context.js';
import { Freshness, OrderStatus } from '../../schema/shared.js';
import { orderAtVersion } from './atVersion.js';
import type { OrderDoc, OrderItemDoc } from './projection.js';
import { getOrder } from './queries.js';

export const OrderItem = builder.objectRef<OrderItemDoc>('OrderItem').implement({
  fields: (t) => ({
    sku: t.exposeString('sku'),
    name: t.exposeString('name'),
    quantity: t.exposeInt('quantity'),
    unitPriceCents: t.exposeInt('unitPriceCents'),
    lineTotalCents: t.exposeInt('lineTotalCents'),
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

builder.queryFields((t) => ({
  // Someone else's order reads as null, like an unknown id: that owner rule needs the loaded document, so
  // it stays in the query (getOrder, orderAtVersion) rather than a scope, which would cost a second read.
  order: t.withAuth({ signedIn: true }).field({
    type: Order,
    nullable: true,
    description:
      'minVersion: wait until the read document has applied at least that version, up to timeoutMs (default 5000, at most 30000); past that, error STALE_READ. Without it, answer at once. ' +
      'atVersion: the order as it was right after that version, folded from the event store (the truth); its freshness.version is atVersion, eventAt that event\'s commit time, projectedAt the moment of the fold. atVersion beyond the current version is NOT_FOUND; with minVersion it is BAD_USER_INPUT.',
    args: { id: t.arg.id({ required: true }), minVersion: t.arg.int(), timeoutMs: t.arg.int(), atVersion: t.arg.int() },
    resolve: (_, args, ctx) => {
      const reads = requireService(ctx, 'reads');
      if (args.atVersion == null) return getOrder(reads, ctx.caller, String(args.id), args);
      if (args.minVersion != null) throw new ValidationError('atVersion reads the past and minVersion waits for the future: send one of them');
      return orderAtVersion(reads, ctx.caller, String(args.id), args.atVersion);
    },
  }),
}));
