import { ValidationError } from '../domain/errors.js';
import { getOrder } from '../queries/getOrder.js';
import { orderAtVersion } from '../queries/orderAtVersion.js';
import { builder } from './builder.js';
import { requireCaller, requireService } from './context.js';
import { Order } from './order.js';

builder.queryFields((t) => ({
  order: t.field({
    type: Order,
    nullable: true,
    description:
      'minVersion: wait until the read document has applied at least that version, up to timeoutMs (default 5000, at most 30000); past that, error STALE_READ. Without it, answer at once. ' +
      'atVersion: the order as it was right after that version, folded from the event store (the truth); its freshness.version is atVersion, eventAt that event\'s commit time, projectedAt the moment of the fold. atVersion beyond the current version is NOT_FOUND; with minVersion it is BAD_USER_INPUT.',
    args: { id: t.arg.id({ required: true }), minVersion: t.arg.int(), timeoutMs: t.arg.int(), atVersion: t.arg.int() },
    resolve: (_, args, ctx) => {
      const reads = requireService(ctx, 'reads');
      if (args.atVersion == null) return getOrder(reads, requireCaller(ctx), String(args.id), args);
      if (args.minVersion != null) throw new ValidationError('atVersion reads the past and minVersion waits for the future: send one of them');
      return orderAtVersion(reads, requireCaller(ctx), String(args.id), args.atVersion);
    },
  }),
}));
