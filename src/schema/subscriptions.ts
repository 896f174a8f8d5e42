import { ValidationError } from '../domain/errors.js';
import { callerKey } from '../keys.js';
import { commandStages } from '../ports.js';
import { RateLimitedError } from '../security/rateLimit.js';
import { type CommandReceipt, commandStatus } from '../queries/commandStatus.js';
import { counted } from '../queries/counted.js';
import { myOrderUpdates, type OrderUpdate, orderUpdates } from '../queries/orderUpdates.js';
import { Order } from '../readModels/orderDetails/schema.js';
import { listOrders, MAX_PAGE } from '../readModels/userOrders/queries.js';
import { projectionStatusUpdates } from '../queries/projectionStatusUpdates.js';
import { ProjectionStatusRef, readProjectionStatus } from './projectionStatus.js';
import { builder } from './builder.js';
import type { Caller } from '../domain/order/index.js';
import { requireService, type SignedIn } from './context.js';
import { Freshness } from './shared.js';

const OrderUpdateRef = builder.objectRef<OrderUpdate>('OrderUpdate').implement({
  fields: (t) => ({
    order: t.field({ type: Order, resolve: (u) => u.doc }),
    eventType: t.exposeString('eventType', { description: 'the event that produced this version; "Snapshot" for a first message of current state' }),
    version: t.int({ resolve: (u) => u.doc.version }),
    previousVersion: t.int({
      nullable: true,
      description: 'version of the message before this one on this subscription; on the first message: sinceVersion when the subscription was resumed with it, else null',
      resolve: (u) => u.previousVersion,
    }),
    freshness: t.field({ type: Freshness, resolve: (u) => u.doc }),
    deliveredAt: t.field({ type: 'DateTime', description: 'when the server pushed this message', resolve: (u) => u.deliveredAt }),
    endToEndLagMs: t.float({ description: 'deliveredAt - freshness.eventAt', resolve: (u) => u.deliveredAt.getTime() - Date.parse(u.doc.eventAt) }),
  }),
});

const CommandStage = builder.enumType('CommandStage', { values: commandStages });

const CommandReceiptRef = builder.objectRef<CommandReceipt>('CommandReceipt').implement({
  fields: (t) => ({
    commandId: t.exposeID('commandId'),
    orderId: t.exposeID('orderId'),
    version: t.exposeInt('version'),
    stage: t.field({ type: CommandStage, resolve: (r) => r.stage }),
    at: t.field({ type: 'DateTime', resolve: (r) => r.at }),
  }),
});

/**
 * Opens a subscription for the caller within MAX_SUBSCRIPTIONS_PER_CALLER (WebSocket and SSE alike, all
 * replicas together where Redis is there), counts it while open and drops a subscriber that stops
 * reading. The slot is given back however the stream ends, also when opening it fails.
 */
async function held<T>(ctx: SignedIn, field: string, open: (caller: Caller) => Promise<AsyncIterable<T>> | AsyncIterable<T>): Promise<AsyncIterable<T>> {
  const { caller } = ctx;
  const { quota, max, stallMs } = ctx.services.subscriptions;
  const release = await quota.acquire(callerKey(caller.userId));
  if (!release) throw new RateLimitedError(`at most ${max} open subscriptions per caller: end one first`, { limit: 'MAX_SUBSCRIPTIONS_PER_CALLER' });
  try {
    return counted(field, await open(caller), { release, stallMs, onStall: ctx.drop });
  } catch (error) {
    release();
    throw error;
  }
}

builder.subscriptionFields((t) => ({
  myOrdersUpdated: t.withAuth({ signedIn: true }).field({
    type: OrderUpdateRef,
    description: `every order of the caller: first the current state of the ${MAX_PAGE} newest, then each change, per order in version order`,
    subscribe: (_, __, ctx) =>
      held(ctx, 'myOrdersUpdated', async (caller) => {
        const reads = requireService(ctx, 'reads');
        const page = await listOrders(reads.readStore, { userId: caller.userId, first: MAX_PAGE });
        return myOrderUpdates(reads, caller, page.edges.map((edge) => edge.node.data.id).reverse());
      }),
    resolve: (update) => update,
  }),
  projectionStatus: t.withAuth({ admin: 'read projection status' }).field({
    type: [ProjectionStatusRef],
    description: 'admin; pushed on change, at most once a second',
    subscribe: (_, __, ctx) =>
      held(ctx, 'projectionStatus', () => {
        const { readStore } = requireService(ctx, 'reads');
        return projectionStatusUpdates(() => readProjectionStatus(readStore));
      }),
    resolve: (statuses) => statuses,
  }),
  commandStatus: t.withAuth({ signedIn: true }).field({
    type: CommandReceiptRef,
    description: 'each stage as it is reached, then completes',
    args: { commandId: t.arg.id({ required: true }) },
    subscribe: (_, args, ctx) => held(ctx, 'commandStatus', (caller) => commandStatus(requireService(ctx, 'reads').receipts, caller, String(args.commandId))),
    resolve: (receipt) => receipt,
  }),
  orderUpdated: t.withAuth({ signedIn: true }).field({
    type: OrderUpdateRef,
    description:
      'First the current state (or every version after sinceVersion), then each change in version order, without gaps: a client that missed messages resubscribes with sinceVersion and loses nothing. Completes after it has delivered a final state (DELIVERED or CANCELLED), also when the order was already final at subscription: then right after the Snapshot.',
    args: { id: t.arg.id({ required: true }), sinceVersion: t.arg.int() },
    // Another customer's order and an unknown id are alike: the subscription stays open and sends nothing.
    subscribe: (_, args, ctx) => {
      if (args.sinceVersion != null && (!Number.isInteger(args.sinceVersion) || args.sinceVersion < 0))
        throw new ValidationError('sinceVersion must be 0 or more');
      return held(ctx, 'orderUpdated', (caller) => orderUpdates(requireService(ctx, 'reads'), caller, String(args.id), args.sinceVersion ?? null));
    },
    resolve: (update) => update,
  }),
}));
