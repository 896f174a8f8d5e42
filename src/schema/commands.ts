import type { CommandHandlers, CommandResult } from '../commands/index.js';
import { Order } from '../readModels/orderDetails/schema.js';
import { getOrder } from '../readModels/orderDetails/queries.js';
import { builder } from './builder.js';
import { requireService, type SignedIn } from './context.js';

const CommandResultRef = builder.objectRef<CommandResult>('CommandResult').implement({
  fields: (t) => ({
    orderId: t.exposeID('orderId'),
    version: t.exposeInt('version', { description: 'aggregate version after the command: pass it as minVersion to read your write' }),
    position: t.exposeString('position', { description: 'global position of the last appended event (a 64-bit integer as a string)' }),
    commandId: t.exposeID('commandId'),
    correlationId: t.exposeID('correlationId'),
    events: t.exposeStringList('events', { description: 'types of the events appended' }),
    // Nullable, so a STALE_READ (or a command-only instance) costs this field only: the command has succeeded.
    order: t.withAuth({ signedIn: true }).field({
      type: Order,
      nullable: true,
      description:
        'The order as read after this command: waits, as order(id, minVersion: version) does, until the read document has applied this command\'s version (up to timeoutMs, default 5000, at most 30000), then answers from the read store; STALE_READ past that (the command itself has succeeded). ' +
        'Selecting it reads your write in the same round trip, and lets GraphQL client caches update the Order by id. On an instance without the query role: ROLE_NOT_SERVED.',
      args: { timeoutMs: t.arg.int() },
      resolve: (result, args, ctx) => getOrder(requireService(ctx, 'reads'), ctx.caller, result.orderId, { minVersion: result.version, timeoutMs: args.timeoutMs }),
    }),
  }),
});

const OrderItemInput = builder.inputType('OrderItemInput', {
  fields: (t) => ({
    sku: t.string({ required: true }),
    name: t.string({ required: true }),
    quantity: t.int({ required: true }),
    unitPriceCents: t.int({ required: true }),
  }),
});

const CreateOrderInput = builder.inputType('CreateOrderInput', {
  fields: (t) => ({
    orderId: t.id(),
    currency: t.string(),
    items: t.field({ type: [OrderItemInput], required: true }),
  }),
});

/** The caller, correlation id and concurrency options every command takes. */
function options(context: SignedIn, args: { expectedVersion?: number | null; idempotencyKey?: string | null }) {
  return {
    caller: context.caller,
    correlationId: context.correlationId,
    expectedVersion: args.expectedVersion ?? null,
    idempotencyKey: args.idempotencyKey ?? null,
  };
}

/**
 * Runs a command and, once it has succeeded, records its first two stages for `commandStatus`: ACCEPTED
 * (stamped with when it arrived) and APPENDED. A refused command leaves no receipt, and a repeat (same
 * idempotency key) keeps the first run's times: the receipt store keeps the first time of each stage. The record is best effort: a receipt store that is down
 * never fails a command.
 */
async function run(context: SignedIn, call: (handlers: CommandHandlers) => Promise<CommandResult>): Promise<CommandResult> {
  const handlers = requireService(context, 'commands');
  const acceptedAt = new Date().toISOString();
  const result = await call(handlers);
  await context.services.receipts
    ?.record(
      { commandId: result.commandId, orderId: result.orderId, userId: context.caller.userId, version: result.version },
      // APPENDED is when the store recorded the events: the relay may publish before this process even sees the result.
      { ACCEPTED: acceptedAt, APPENDED: result.recordedAt ?? new Date().toISOString() },
    )
    .catch((error: unknown) => context.services.log.warn({ err: error, commandId: result.commandId }, 'could not record the command receipt'));
  return result;
}

// Every command needs a caller. Who may ship or deliver (admins) is the decider's rule, not a scope: it
// holds for every way a command arrives, and it answers NOT_FOUND for someone else's order before FORBIDDEN.
builder.mutationFields((base) => {
  const t = base.withAuth({ signedIn: true });
  const versioned = {
    orderId: t.arg.id({ required: true }),
    expectedVersion: t.arg.int(),
    idempotencyKey: t.arg.string(),
  };
  return {
    createOrder: t.field({
      type: CommandResultRef,
      args: { input: t.arg({ type: CreateOrderInput, required: true }), idempotencyKey: t.arg.string() },
      resolve: (_, args, ctx) => run(ctx, (c) => c.createOrder(args.input, options(ctx, args))),
    }),
    addOrderItem: t.field({
      type: CommandResultRef,
      args: { ...versioned, item: t.arg({ type: OrderItemInput, required: true }) },
      resolve: (_, args, ctx) => run(ctx, (c) => c.addOrderItem(String(args.orderId), args.item, options(ctx, args))),
    }),
    removeOrderItem: t.field({
      type: CommandResultRef,
      args: { ...versioned, sku: t.arg.string({ required: true }) },
      resolve: (_, args, ctx) => run(ctx, (c) => c.removeOrderItem(String(args.orderId), args.sku, options(ctx, args))),
    }),
    confirmOrder: t.field({
      type: CommandResultRef,
      args: versioned,
      resolve: (_, args, ctx) => run(ctx, (c) => c.confirmOrder(String(args.orderId), options(ctx, args))),
    }),
    payOrder: t.field({
      type: CommandResultRef,
      args: { ...versioned, paymentReference: t.arg.string({ required: true }) },
      resolve: (_, args, ctx) => run(ctx, (c) => c.payOrder(String(args.orderId), args.paymentReference, options(ctx, args))),
    }),
    shipOrder: t.field({
      type: CommandResultRef,
      description: 'admin',
      args: { ...versioned, trackingNumber: t.arg.string({ required: true }) },
      resolve: (_, args, ctx) => run(ctx, (c) => c.shipOrder(String(args.orderId), args.trackingNumber, options(ctx, args))),
    }),
    deliverOrder: t.field({
      type: CommandResultRef,
      description: 'admin',
      args: versioned,
      resolve: (_, args, ctx) => run(ctx, (c) => c.deliverOrder(String(args.orderId), options(ctx, args))),
    }),
    cancelOrder: t.field({
      type: CommandResultRef,
      args: { ...versioned, reason: t.arg.string({ required: true }) },
      resolve: (_, args, ctx) => run(ctx, (c) => c.cancelOrder(String(args.orderId), args.reason, options(ctx, args))),
    }),
  };
});
