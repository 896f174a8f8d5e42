import { valueFromASTUntyped } from 'graphql';
import { historyPage, type HistoryEvent, type HistoryPage, orderHistory } from '../queries/orderHistory.js';
import { builder } from './builder.js';
import { requireService } from './context.js';
import { PageInfo } from './shared.js';

// Event data differs per event type and schema version; a union of payload types would have to grow
// with every new event, so the audit trail carries it as plain JSON.
builder.scalarType('JSON', {
  description: 'Any JSON value',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (ast, variables) => valueFromASTUntyped(ast, variables),
});

const OrderEvent = builder.objectRef<HistoryEvent>('OrderEvent').implement({
  description: 'One stored event of an order, in its current shape (upcast), with its metadata.',
  fields: (t) => ({
    position: t.exposeString('position', { description: 'global position in the event store (a 64-bit integer as a string)' }),
    version: t.exposeInt('version'),
    type: t.exposeString('type'),
    committedAt: t.field({ type: 'DateTime', resolve: (event) => event.recordedAt }),
    data: t.field({ type: 'JSON', resolve: (event) => event.data }),
    commandId: t.exposeID('commandId', { nullable: true }),
    correlationId: t.exposeID('correlationId', { nullable: true }),
    causationId: t.exposeID('causationId', { nullable: true }),
    userId: t.exposeID('userId', { nullable: true, description: 'who caused the event (an admin acting on an order is not its owner)' }),
  }),
});

const OrderEventEdge = builder.edgeObject({ name: 'OrderEventEdge', type: OrderEvent });

// Hand-written for the same reason as OrderConnection: the plugin's connection would bring its own PageInfo.
const OrderEventConnection = builder.objectRef<HistoryPage>('OrderEventConnection').implement({
  fields: (t) => ({
    edges: t.field({ type: [OrderEventEdge], resolve: (page) => page.edges }),
    pageInfo: t.field({ type: PageInfo, resolve: (page) => page }),
  }),
});

builder.queryFields((t) => ({
  orderHistory: t.withAuth({ signedIn: true }).field({
    type: OrderEventConnection,
    description: `The audit trail: every event of the order in version order, from the event store. Owner or admin; for anyone else (and for an unknown id) the error NOT_FOUND. first: 1-${historyPage.maxSize}.`,
    args: { id: t.arg.id({ required: true }), first: t.arg.int({ defaultValue: historyPage.defaultSize }), after: t.arg.string() },
    // The owner rule stays in the query: the owner is in the stream's first event, and someone else's
    // order must read as NOT_FOUND (like an unknown id), not FORBIDDEN.
    resolve: async (_, args, ctx) => {
      const store = await requireService(ctx, 'reads').events();
      return orderHistory(store, ctx.caller, String(args.id), args);
    },
  }),
}));
