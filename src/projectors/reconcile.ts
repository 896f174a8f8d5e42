import { setImmediate as yieldToEvents } from 'node:timers/promises';
import type { Logger } from 'pino';
import { metrics } from '../metrics.js';
import type { EventStore } from '../ports.js';
import { consumerOf, type DeadLetterStore } from './deadLetters.js';
import type { Projection } from './projection.js';
import { type ApplyDeps, applyEvent, refold } from './runtime.js';

export interface StreamHead {
  streamId: string;
  version: number;
  position: bigint;
  /** Id of the event at `version`. */
  eventId: string;
}

export interface StreamVersions {
  /** The latest version (and its position) of every stream with an event committed at or after `since`. */
  changedSince(since: Date): Promise<StreamHead[]>;
}

/** For the embedded store, which has no aggregate query: a scan of the whole log, fine at its size. */
export function scanStreamVersions(store: EventStore): StreamVersions {
  return {
    async changedSince(since) {
      const heads = new Map<string, StreamHead>();
      for (let after = 0n; ; ) {
        const page = await store.readAll(after, 1000);
        if (page.length === 0) break;
        for (const { streamId, version, position, recordedAt, metadata } of page)
          if (recordedAt >= since || heads.has(streamId)) heads.set(streamId, { streamId, version, position, eventId: metadata.eventId });
        after = page.at(-1)!.position;
      }
      return [...heads.values()];
    },
  };
}

export interface ReconcileDeps extends ApplyDeps {
  versions: StreamVersions;
  deadLetters: DeadLetterStore;
  log: Logger;
}

export interface ReconcileResult {
  streams: number;
  /** Documents compared with the event store (version and last event id). */
  compared: number;
  repaired: number;
  /** Of the repaired, documents that disagreed on an event they had applied, folded again from scratch. */
  diverged: number;
  failed: number;
}

/**
 * The bus may lose an order's last message (a purge, a crash before fsync, a consumer past its delivery
 * limit, a projector killed while it held one), and then nothing would ever bring that document up to
 * date. This compares each recently changed stream's head in the event store (version and event id) with
 * its documents: one behind gets what is missing, by the same path as a delivery; one that applied
 * another event at that version, or a version the store does not have, is folded again from scratch.
 * Streams with an unresolved poison letter stay where they are: that is their honest state.
 */
export async function reconcile(deps: ReconcileDeps, projections: readonly Projection<unknown>[], windowMs: number): Promise<ReconcileResult> {
  const heads = await deps.versions.changedSince(new Date(Date.now() - windowMs));
  const result: ReconcileResult = { streams: heads.length, compared: 0, repaired: 0, diverged: 0, failed: 0 };
  for (const projection of projections) {
    const blocked = await deps.deadLetters.blocked(consumerOf(projection.name));
    for (let i = 0; i < heads.length; i += 200) {
      // Between chunks, deliveries and requests run: a large sweep never holds the event loop for long.
      if (i > 0) await yieldToEvents();
      const chunk = heads.slice(i, i + 200);
      const docs = await deps.readStore.getMany(projection.collection, chunk.map((head) => head.streamId));
      for (const [j, head] of chunk.entries()) {
        if (blocked.has(head.streamId)) continue;
        const doc = docs[j] ?? null;
        result.compared++;
        const behind = (doc?.version ?? 0) < head.version;
        const diverged = doc !== null && (doc.version > head.version || (doc.version === head.version && doc.eventId !== undefined && doc.eventId !== head.eventId));
        if (!behind && !diverged) continue;
        try {
          if (diverged) {
            await refold(deps, projection, head.streamId, doc);
            result.diverged++;
          } else {
            const [latest] = await deps.store.readStream(head.streamId, head.version);
            if (!latest) continue; // archived meanwhile
            await applyEvent(deps, projection, latest);
          }
          result.repaired++;
          metrics.projectorEvents.inc({ projection: projection.name, outcome: 'reconciled' });
        } catch (error) {
          result.failed++;
          deps.log.warn({ err: error, projection: projection.name, orderId: head.streamId }, 'reconciliation could not repair a document');
        }
      }
    }
  }
  if (result.repaired > 0 || result.failed > 0) deps.log.info(result, 'reconciliation repaired documents');
  return result;
}
