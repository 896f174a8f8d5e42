import { isAdmin } from '../../domain/order/index.js';
import { builder } from '../../schema/builder.js';
import { requireService } from '../../schema/context.js';
import { OrderStatus, PageInfo } from '../../schema/shared.js';
import { Order } from '../orderDetails/schema.js';
import { listOrders, type OrderPage } from './queries.js';

const OrderEdge = builder.edgeObject({ name: 'OrderEdge', type: Order });

// Hand-written, not builder.connectionObject: the plugin's connection always points its pageInfo at the
// plugin's own PageInfo, which adds hasPreviousPage and startCursor to the contract (see shared.ts).
const OrderConnection = builder.objectRef<OrderPage>('OrderConnection').implement({
  fields: (t) => ({
    edges: t.field({ type: [OrderEdge], resolve: (page) => page.edges }),
    pageInfo: t.field({ type: PageInfo, resolve: (page) => page }),
    totalCount: t.exposeInt('totalCount'),
  }),
});

builder.queryFields((t) => ({
  // A customer lists their own orders (naming themselves or nobody); naming anyone else takes an admin.
  orders: t
    .withAuth((_, args, ctx) =>
      args.userId == null || String(args.userId) === ctx.caller?.userId ? { signedIn: true } : { admin: "list another user's orders" },
    )
    .field({
      type: OrderConnection,
      description: 'newest first; customers see their own orders, admins may filter by userId',
      args: { status: t.arg({ type: OrderStatus }), userId: t.arg.id(), first: t.arg.int({ defaultValue: 20 }), after: t.arg.string() },
      resolve: (_, args, ctx) => {
        // Not a permission but the list's meaning: an admin sees everyone's orders (or the asked user's), a customer their own.
        const userId = isAdmin(ctx.caller) ? (args.userId == null ? null : String(args.userId)) : ctx.caller.userId;
        return listOrders(requireService(ctx, 'reads').readStore, { userId, status: args.status, first: args.first ?? 20, after: args.after });
      },
    }),
}));
