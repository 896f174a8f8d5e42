import { type ProjectionStatus, projectionStatus } from '../projectors/status.js';
import { projections } from '../readModels/index.js';
import { builder } from './builder.js';
import { requireService } from './context.js';

const ProjectionState = builder.enumType('ProjectionState', { values: ['LIVE', 'CATCHING_UP', 'REBUILDING', 'STOPPED', 'FAILED'] as const });

export const ProjectionStatusRef = builder.objectRef<ProjectionStatus>('ProjectionStatus').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    state: t.field({ type: ProjectionState, resolve: (status) => status.state }),
    position: t.exposeString('position', { description: 'highest global position applied' }),
    headPosition: t.exposeString('headPosition', { description: 'highest global position in the event store' }),
    lagEvents: t.exposeInt('lagEvents'),
    lagMs: t.exposeFloat('lagMs', { description: 'age of the oldest event not yet applied; 0 when caught up' }),
    deadLetters: t.exposeInt('deadLetters'),
  }),
});

/** The read store alone answers it; the fields that call it are admin only (their authScopes). */
export function readProjectionStatus(readStore: Parameters<typeof projectionStatus>[0]) {
  return projectionStatus(readStore, projections);
}

builder.queryFields((t) => ({
  projectionStatus: t.withAuth({ admin: 'read projection status' }).field({
    type: [ProjectionStatusRef],
    description: 'admin',
    resolve: (_, __, ctx) => readProjectionStatus(requireService(ctx, 'reads').readStore),
  }),
}));
