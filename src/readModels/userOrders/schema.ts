import { ForbiddenError } from '../../domain/errors.js';
import { isAdmin } from '../../domain/order/index.js';
import { builder } from '../../schema/builder.js';
import { requireCaller, requireService } from '../../schema/context.js';
import { OrderStatus, PageInfo } from '../../schema/shared.js';
import { Order } from '../orderDetails/schema.js';
import { listOrders, type OrderPage } from './queries.js';

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
}));
