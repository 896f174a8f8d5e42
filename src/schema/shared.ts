import { orderStatuses } from '../domain/order/index.js';
import type { VersionedDoc } from '../ports.js';
import { builder } from './builder.js';

// What several read models' types share: a slice's schema.ts may import this file, the builder and the context.

export const OrderStatus = builder.enumType('OrderStatus', {
  values: orderStatuses,
});

/** Any read document's freshness; ageMs is measured when the field is resolved. */
export const Freshness = builder.objectRef<Omit<VersionedDoc, 'data'>>('Freshness').implement({
  description: 'How fresh a read document is.',
  fields: (t) => ({
    version: t.exposeInt('version', { description: 'last aggregate version applied to this document' }),
    eventAt: t.field({ type: 'DateTime', description: 'commit time of that event on the write side', resolve: (f) => f.eventAt }),
    projectedAt: t.field({ type: 'DateTime', description: 'when a projector wrote the document', resolve: (f) => f.projectedAt }),
    lagMs: t.float({ description: 'projectedAt - eventAt', resolve: (f) => Date.parse(f.projectedAt) - Date.parse(f.eventAt) }),
    ageMs: t.float({ description: 'now - projectedAt, at response time', resolve: (f) => Date.now() - Date.parse(f.projectedAt) }),
  }),
});

// Hand-written, not the relay plugin's: the plugin's PageInfo always has hasPreviousPage and startCursor
// (the Relay spec's four fields), and the contract (API.md) has these two. Connections page forward only.
export const PageInfo = builder.objectRef<{ hasNextPage: boolean; endCursor: string | null }>('PageInfo').implement({
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage'),
    endCursor: t.exposeString('endCursor', { nullable: true }),
  }),
});
