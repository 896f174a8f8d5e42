import { NotFoundError, ValidationError } from '../domain/errors.js';
import { type CommandReceipt, commandStatus } from '../queries/commandStatus.js';
import { counted } from '../queries/counted.js';
import { canSee } from '../queries/getOrder.js';
import { myOrderUpdates, type OrderUpdate, orderUpdates } from '../queries/orderUpdates.js';
import { listOrders, MAX_PAGE } from '../projectors/queries.js';
import { projectionStatusUpdates } from '../queries/projectionStatusUpdates.js';
import { ProjectionStatusRef, readProjectionStatus } from './readModels.js';
import { orderDetails, type OrderDoc } from '../projectors/orderDetails.js';
import { builder } from './builder.js';
import { requireCaller, requireService } from './context.js';
import { Freshness, Order } from './order.js';

const OrderUpdateRef = builder.objectRef<OrderUpdate>('OrderUpdate').implement({
  fields: (t) => ({
    order: t.field({ type: Order, resolve: (u) => u.doc }),
    eventType: t.exposeString('eventType', { description: 'the event that produced this version; "Snapshot" for a first message of current state' }),
    version: t.int({ resolve: (u) => u.doc.version }),
    previousVersion: t.int({ nullable: true, description: 'version of the message before this one on this subscription; null on the first', resolve: (u) => u.previousVersion }),
    freshness: t.field({ type: Freshness, resolve: (u) => u.doc }),
    deliveredAt: t.field({ type: 'DateTime', description: 'when the server pushed this message', resolve: (u) => u.deliveredAt }),
    endToEndLagMs: t.float({ description: 'deliveredAt - freshness.eventAt', resolve: (u) => u.deliveredAt.getTime() - Date.parse(u.doc.eventAt) }),
  }),
});

const CommandStage = builder.enumType('CommandStage', { values: ['ACCEPTED', 'APPENDED', 'PUBLISHED', 'PROJECTED'] as const });

const CommandReceiptRef = builder.objectRef<CommandReceipt>('CommandReceipt').implement({
  fields: (t) => ({
    commandId: t.exposeID('commandId'),
    orderId: t.exposeID('orderId'),
    version: t.exposeInt('version'),
    stage: t.field({ type: CommandStage, resolve: (r) => r.stage }),
    at: t.field({ type: 'DateTime', resolve: (r) => r.at }),
  }),
});

builder.subscriptionFields((t) => ({
  myOrdersUpdated: t.field({
    type: OrderUpdateRef,
    description: `every order of the caller: first the current state of the ${MAX_PAGE} newest, then each change, per order in version order`,
    subscribe: async (_, __, ctx) => {
      const caller = requireCaller(ctx);
      const reads = requireService(ctx, 'reads');
      const page = await listOrders(reads.readStore, { userId: caller.userId, first: MAX_PAGE });
      return counted('myOrdersUpdated', myOrderUpdates(reads, caller, page.edges.map((edge) => edge.doc.data.id).reverse()));
    },
    resolve: (update) => update,
  }),
  projectionStatus: t.field({
    type: [ProjectionStatusRef],
    description: 'admin; pushed on change, at most once a second',
    subscribe: async (_, __, ctx) => {
      const reads = requireService(ctx, 'reads');
      const caller = requireCaller(ctx);
      await readProjectionStatus(reads.readStore, caller);
      return counted('projectionStatus', projectionStatusUpdates(() => readProjectionStatus(reads.readStore, caller)));
    },
    resolve: (statuses) => statuses,
  }),
  commandStatus: t.field({
    type: CommandReceiptRef,
    description: 'each stage as it is reached, then completes',
    args: { commandId: t.arg.id({ required: true }) },
    subscribe: async (_, args, ctx) => counted('commandStatus', await commandStatus(requireService(ctx, 'reads').receipts, requireCaller(ctx), String(args.commandId))),
    resolve: (receipt) => receipt,
  }),
  orderUpdated: t.field({
    type: OrderUpdateRef,
    description:
      'First the current state (or every version after sinceVersion), then each change in version order, without gaps: a client that missed messages resubscribes with sinceVersion and loses nothing.',
    args: { id: t.arg.id({ required: true }), sinceVersion: t.arg.int() },
    subscribe: async (_, args, ctx) => {
      const caller = requireCaller(ctx);
      const reads = requireService(ctx, 'reads');
      const id = String(args.id);
      const doc = await reads.readStore.get<OrderDoc>(orderDetails.collection, id);
      if (doc && !canSee(caller, doc)) throw new NotFoundError(`order ${id} not found`);
      if (args.sinceVersion != null && (!Number.isInteger(args.sinceVersion) || args.sinceVersion < 0))
        throw new ValidationError('sinceVersion must be 0 or more');
      return counted('orderUpdated', orderUpdates(reads, caller, id, args.sinceVersion ?? null));
    },
    resolve: (update) => update,
  }),
}));
