import { builder } from '../../schema/builder.js';
import { requireService } from '../../schema/context.js';
import { Freshness, OrderStatus } from '../../schema/shared.js';
import { type OrderStatsAnswer, orderStats } from './queries.js';

const StatusCount = builder.objectRef<OrderStatsAnswer['byStatus'][number]>('StatusCount').implement({
  fields: (t) => ({
    status: t.field({ type: OrderStatus, resolve: (entry) => entry.status }),
    count: t.exposeInt('count'),
  }),
});

const OrderStats = builder.objectRef<OrderStatsAnswer>('OrderStats').implement({
  fields: (t) => ({
    totalOrders: t.exposeInt('totalOrders'),
    revenueCents: t.exposeInt('revenueCents'),
    byStatus: t.field({ type: [StatusCount], resolve: (stats) => stats.byStatus }),
    freshness: t.field({ type: Freshness, nullable: true, description: 'version counts the events folded into the statistics', resolve: (stats) => stats.freshness }),
  }),
});

builder.queryFields((t) => ({
  orderStats: t.withAuth({ admin: 'read order statistics' }).field({
    type: OrderStats,
    description: 'admin',
    resolve: (_, __, ctx) => orderStats(requireService(ctx, 'reads').readStore),
  }),
}));
