import { ForbiddenError } from '../domain/errors.js';
import { type Caller, isAdmin } from '../domain/order/index.js';
import { listOrders, type OrderPage, type OrderStatsAnswer, orderStats } from '../projectors/queries.js';
import { projections } from '../projectors/role.js';
import { type ProjectionStatus, projectionStatus } from '../projectors/status.js';
import { builder } from './builder.js';
import { requireCaller, requireService } from './context.js';
import { Freshness, Order, OrderStatus } from './order.js';

function requireAdmin(caller: Caller, what: string): void {
  if (!isAdmin(caller)) throw new ForbiddenError(`only an admin may read ${what}`);
}

export const PageInfo = builder.objectRef<{ hasNextPage: boolean; endCursor: string | null }>('PageInfo').implement({
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage'),
    endCursor: t.exposeString('endCursor', { nullable: true }),
  }),
});

const OrderEdge = builder.objectRef<OrderPage['edges'][number]>('OrderEdge').implement({
  fields: (t) => ({
    cursor: t.exposeString('cursor'),
    node: t.field({ type: Order, resolve: (edge) => edge.doc }),
  }),
});

const OrderConnection = builder.objectRef<OrderPage>('OrderConnection').implement({
  fields: (t) => ({
    edges: t.field({ type: [OrderEdge], resolve: (page) => page.edges }),
    pageInfo: t.field({ type: PageInfo, resolve: (page) => page }),
    totalCount: t.exposeInt('totalCount'),
  }),
});

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

const ProjectionState = builder.enumType('ProjectionState', { values: ['LIVE', 'CATCHING_UP', 'REBUILDING', 'STOPPED', 'FAILED'] as const });

export const ProjectionStatusRef = builder.objectRef<ProjectionStatus>('ProjectionStatus').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    state: t.field({ type: ProjectionState, resolve: (status) => status.state }),
    position: t.exposeString('position', { description: 'highest global position applied' }),
    headPosition: t.exposeString('headPosition', { description: 'highest global position in the event store' }),
    lagEvents: t.exposeInt('lagEvents'),
    lagMs: t.exposeFloat('lagMs', { description: 'age of the oldest event not yet applied; 0 when caught up' }),
    deadLetters: t.exposeInt('deadLetters'),
  }),
});

/** Admins only; the read store alone answers it. */
export function readProjectionStatus(readStore: Parameters<typeof projectionStatus>[0], caller: Caller) {
  requireAdmin(caller, 'projection status');
  return projectionStatus(readStore, projections);
}

builder.queryFields((t) => ({
  orders: t.field({
    type: OrderConnection,
    description: 'newest first; customers see their own orders, admins may filter by userId',
    args: { status: t.arg({ type: OrderStatus }), userId: t.arg.id(), first: t.arg.int({ defaultValue: 20 }), after: t.arg.string() },
    resolve: (_, args, ctx) => {
      const caller = requireCaller(ctx);
      const asked = args.userId == null ? null : String(args.userId);
      if (asked !== null && asked !== caller.userId && !isAdmin(caller)) throw new ForbiddenError("only an admin may list another user's orders");
      const userId = isAdmin(caller) ? asked : caller.userId;
      return listOrders(requireService(ctx, 'reads').readStore, { userId, status: args.status, first: args.first ?? 20, after: args.after });
    },
  }),
  orderStats: t.field({
    type: OrderStats,
    description: 'admin',
    resolve: (_, __, ctx) => {
      requireAdmin(requireCaller(ctx), 'order statistics');
      return orderStats(requireService(ctx, 'reads').readStore);
    },
  }),
  projectionStatus: t.field({
    type: [ProjectionStatusRef],
    description: 'admin',
    resolve: (_, __, ctx) => readProjectionStatus(requireService(ctx, 'reads').readStore, requireCaller(ctx)),
  }),
}));
