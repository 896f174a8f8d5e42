import type { CommandResult } from '../commands/index.js';
import { builder } from './builder.js';
import { type Context, requireCaller, requireService } from './context.js';

const CommandResultRef = builder.objectRef<CommandResult>('CommandResult').implement({
  fields: (t) => ({
    orderId: t.exposeID('orderId'),
    version: t.exposeInt('version', { description: 'aggregate version after the command: pass it as minVersion to read your write' }),
    position: t.exposeString('position', { description: 'global position of the last appended event (a 64-bit integer as a string)' }),
    commandId: t.exposeID('commandId'),
    correlationId: t.exposeID('correlationId'),
    events: t.exposeStringList('events', { description: 'types of the events appended' }),
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
function options(context: Context, args: { expectedVersion?: number | null; idempotencyKey?: string | null }) {
  return {
    caller: requireCaller(context),
    correlationId: context.correlationId,
    expectedVersion: args.expectedVersion ?? null,
    idempotencyKey: args.idempotencyKey ?? null,
  };
}

const commands = (context: Context) => requireService(context, 'commands');

builder.mutationFields((t) => {
  const versioned = {
    orderId: t.arg.id({ required: true }),
    expectedVersion: t.arg.int(),
    idempotencyKey: t.arg.string(),
  };
  return {
    createOrder: t.field({
      type: CommandResultRef,
      args: { input: t.arg({ type: CreateOrderInput, required: true }), idempotencyKey: t.arg.string() },
      resolve: (_, args, ctx) => commands(ctx).createOrder(args.input, options(ctx, args)),
    }),
    addOrderItem: t.field({
      type: CommandResultRef,
      args: { ...versioned, item: t.arg({ type: OrderItemInput, required: true }) },
      resolve: (_, args, ctx) => commands(ctx).addOrderItem(String(args.orderId), args.item, options(ctx, args)),
    }),
    removeOrderItem: t.field({
      type: CommandResultRef,
      args: { ...versioned, sku: t.arg.string({ required: true }) },
      resolve: (_, args, ctx) => commands(ctx).removeOrderItem(String(args.orderId), args.sku, options(ctx, args)),
    }),
    confirmOrder: t.field({
      type: CommandResultRef,
      args: versioned,
      resolve: (_, args, ctx) => commands(ctx).confirmOrder(String(args.orderId), options(ctx, args)),
    }),
    payOrder: t.field({
      type: CommandResultRef,
      args: { ...versioned, paymentReference: t.arg.string({ required: true }) },
      resolve: (_, args, ctx) => commands(ctx).payOrder(String(args.orderId), args.paymentReference, options(ctx, args)),
    }),
    shipOrder: t.field({
      type: CommandResultRef,
      description: 'admin',
      args: { ...versioned, trackingNumber: t.arg.string({ required: true }) },
      resolve: (_, args, ctx) => commands(ctx).shipOrder(String(args.orderId), args.trackingNumber, options(ctx, args)),
    }),
    deliverOrder: t.field({
      type: CommandResultRef,
      description: 'admin',
      args: versioned,
      resolve: (_, args, ctx) => commands(ctx).deliverOrder(String(args.orderId), options(ctx, args)),
    }),
    cancelOrder: t.field({
      type: CommandResultRef,
      args: { ...versioned, reason: t.arg.string({ required: true }) },
      resolve: (_, args, ctx) => commands(ctx).cancelOrder(String(args.orderId), args.reason, options(ctx, args)),
    }),
  };
});
