import { getOrder } from '../queries/getOrder.js';
import { builder } from './builder.js';
import { requireCaller, requireService } from './context.js';
import { Order } from './order.js';

builder.queryFields((t) => ({
  order: t.field({
    type: Order,
    nullable: true,
    description: 'minVersion: wait until the read document has applied at least that version, up to timeoutMs (default 5000, at most 30000); past that, error STALE_READ. Without it, answer at once.',
    args: { id: t.arg.id({ required: true }), minVersion: t.arg.int(), timeoutMs: t.arg.int() },
    resolve: (_, args, ctx) => getOrder(requireService(ctx, 'reads'), requireCaller(ctx), String(args.id), args),
  }),
}));
