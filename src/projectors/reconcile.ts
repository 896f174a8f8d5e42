import { setTimeout as sleepMs } from 'node:timers/promises';
import type { Logger } from 'pino';
import { metrics } from '../metrics.js';
import type { DeadLetterStore, DocHead, StreamHead, StreamVersions } from '../ports.js';
import { consumerOf, type Projection } from '../readModels/projection.js';
import { type ApplyDeps, applyEvent, refold } from './runtime.js';

/** Between chunks of 200 orders; a sweep of 30,000 orders over 3 read models takes 2-3 s longer. */
const PAUSE_MS = 5;
const CHUNK = 200;
/** Streams read from the event store at once. */
const PAGE = 1000;

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
  const since = new Date(Date.now() - windowMs);
  const result: ReconcileResult = { streams: 0, compared: 0, repaired: 0, diverged: 0, failed: 0 };
  const blocked = await Promise.all(projections.map((projection) => deps.deadLetters.blocked(consumerOf(projection.name))));
  // By pages of streams: the heads of a whole interval at once (25,000 after 30 s at the peak) took 50 ms
  // to decode in one turn of the event loop, and every request waited for it (bench:overload, the sweep's
  // second: admitted and refused p99 50-70 ms against 8-15 around it).
  let chunks = 0;
  for (let after: string | undefined; ; ) {
    const heads = await deps.versions.changedSince(since, { after, limit: PAGE });
    result.streams += heads.length;
    for (const [p, projection] of projections.entries()) {
      for (let i = 0; i < heads.length; i += CHUNK) {
        // Paced: a sweep covers every order changed in the last interval (30,000 at 1,000 commands/s), and
        // run flat out it showed as a tail in the latency of the commands around it (bench:overload, the
        // unloaded phase: p99 67 ms in the sweep's second against 5-8 ms in the others; 15-17 ms paced).
        if (chunks++ > 0) await sleepMs(PAUSE_MS);
        const chunk = heads.slice(i, i + CHUNK);
        // Versions and event ids only: the documents themselves are read for the few that need repair.
        const docs = await deps.readStore.heads(projection.collection, chunk.map((head) => head.streamId));
        for (const [j, head] of chunk.entries()) {
          if (blocked[p]!.has(head.streamId)) continue;
          await compareAndRepair(deps, projection, head, docs[j] ?? null, result);
        }
      }
    }
    if (heads.length < PAGE) break;
    after = heads.at(-1)!.streamId;
  }
  if (result.repaired > 0 || result.failed > 0) deps.log.info(result, 'reconciliation repaired documents');
  return result;
}

/** One stream's head against its document: brought up to date when behind, folded again when it diverged. */
async function compareAndRepair(deps: ReconcileDeps, projection: Projection<unknown>, head: StreamHead, doc: DocHead | null, result: ReconcileResult): Promise<void> {
  result.compared++;
  const behind = (doc?.version ?? 0) < head.version;
  const diverged = doc !== null && (doc.version > head.version || (doc.version === head.version && doc.eventId !== undefined && doc.eventId !== head.eventId));
  if (!behind && !diverged) return;
  try {
    if (diverged) {
      await refold(deps, projection, head.streamId, await deps.readStore.get(projection.collection, head.streamId));
      result.diverged++;
    } else {
      const [latest] = await deps.store.readStream(head.streamId, head.version);
      if (!latest) return; // archived meanwhile
      await applyEvent(deps, projection, latest);
    }
    result.repaired++;
    metrics.projectorEvents.inc({ projection: projection.name, outcome: 'reconciled' });
  } catch (error) {
    result.failed++;
    deps.log.warn({ err: error, projection: projection.name, orderId: head.streamId }, 'reconciliation could not repair a document');
  }
}
