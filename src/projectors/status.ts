import { metrics } from '../metrics.js';
import type { DeadLetterStore, EventStore, ReadCoordination } from '../ports.js';
import { consumerOf, type Projection, rebuildLease } from '../readModels/projection.js';
import type { ProjectionHealth } from './runtime.js';

export type ProjectionState = 'LIVE' | 'CATCHING_UP' | 'REBUILDING' | 'STOPPED' | 'FAILED';

export interface ProjectionStatus {
  name: string;
  state: ProjectionState;
  /** Highest global position applied, and the event store's head, as decimal strings (64-bit). */
  position: string;
  headPosition: string;
  lagEvents: number;
  /** Age of the oldest event not yet applied; 0 when caught up. */
  lagMs: number;
  deadLetters: number;
}

// Redis keys (read store info) the projector role samples into, so status is read without Postgres.
const HEAD = 'head';
const infoOf = (projection: Projection<unknown>) => `projection:${projection.name}`;
/** A sample older than this means no projector process is running the projection. */
export const STALE_AFTER_MS = 5_000;
/** Behind by more than this, a projection is catching up rather than live. */
const CATCHING_UP_AFTER_MS = 5_000;

/** Writes the event store's head where `projectionStatus` reads it; any process with both stores may. */
export async function sampleHead(store: EventStore, readStore: Pick<ReadCoordination, 'setInfo'>): Promise<bigint> {
  const head = await store.headPosition();
  await readStore.setInfo(HEAD, { position: head.toString(), sampledAt: String(Date.now()) });
  return head;
}

/** The projector role's periodic sample: head, lag, dead letters and health per projection, and the metrics. */
export async function sampleProjections(
  deps: { store: EventStore; readStore: ReadCoordination; deadLetters: DeadLetterStore },
  projections: readonly { projection: Projection<unknown>; health: () => ProjectionHealth }[],
): Promise<void> {
  const head = await sampleHead(deps.store, deps.readStore);
  const letters = await deps.deadLetters.countUnresolved();
  for (const { projection, health } of projections) {
    const position = (await deps.readStore.getCheckpoint(projection.collection)) ?? 0n;
    const [oldest] = position < head ? await deps.store.readAll(position, 1) : [];
    const { handled, failed } = health();
    const deadLetters = letters[consumerOf(projection.name)] ?? 0;
    await deps.readStore.setInfo(infoOf(projection), {
      failing: String(failed > 0 && handled === 0),
      oldestUnappliedAt: oldest ? String(oldest.recordedAt.getTime()) : '',
      deadLetters: String(deadLetters),
      sampledAt: String(Date.now()),
    });
    metrics.projectorLagEvents.set({ projection: projection.name }, Number(head > position ? head - position : 0n));
    metrics.projectorLagSeconds.set({ projection: projection.name }, oldest ? (Date.now() - oldest.recordedAt.getTime()) / 1000 : 0);
    metrics.deadLetters.set({ consumer: consumerOf(projection.name) }, deadLetters);
  }
}

/**
 * Every projection's state, from Redis only: the live checkpoint, the sampled head and lag, and whether
 * a rebuild holds its lease. Lag counts positions, which may skip numbers a rolled-back append took.
 */
export async function projectionStatus(readStore: ReadCoordination, projections: readonly Projection<unknown>[]): Promise<ProjectionStatus[]> {
  const headInfo = await readStore.getInfo(HEAD);
  const head = BigInt(headInfo.position ?? '0');
  const now = Date.now();
  return Promise.all(
    projections.map(async (projection) => {
      const [checkpoint, info, rebuilding] = await Promise.all([
        readStore.getCheckpoint(projection.collection),
        readStore.getInfo(infoOf(projection)),
        readStore.leaseHolder(rebuildLease(projection)),
      ]);
      const position = checkpoint ?? 0n;
      const lagEvents = Number(head > position ? head - position : 0n);
      const lagMs = lagEvents > 0 && info.oldestUnappliedAt ? Math.max(0, now - Number(info.oldestUnappliedAt)) : 0;
      const sampled = info.sampledAt !== undefined && now - Number(info.sampledAt) < STALE_AFTER_MS;
      const state: ProjectionState = rebuilding
        ? 'REBUILDING'
        : !sampled
          ? 'STOPPED'
          : info.failing === 'true'
            ? 'FAILED'
            : lagMs > CATCHING_UP_AFTER_MS
              ? 'CATCHING_UP'
              : 'LIVE';
      return {
        name: projection.name,
        state,
        position: position.toString(),
        headPosition: (head > position ? head : position).toString(),
        lagEvents,
        lagMs,
        deadLetters: Number(info.deadLetters ?? 0),
      };
    }),
  );
}
