// Moves the streams of finished orders from `events` to `events_archive`, keeping their positions, so
// the hot table (and its indexes) holds only what commands still change. The event store reads both
// tables, so an archived order still loads for commands and still appears in a rebuild from position 0.
// A table rather than files: archived rows stay in the same transactions and backups as the rest of the
// truth, and reading them is one UNION away instead of a second storage to keep consistent.
import { Prisma, type PrismaClient } from '../../generated/prisma/client.js';
import type { OrderEventType } from '../../domain/order/index.js';

/** The last event of a stream that no command can follow. */
export const finishedEventTypes = ['OrderDelivered', 'OrderCancelled'] as const satisfies readonly OrderEventType[];

// Any constant, as long as every archiver uses the same one: two archivers would copy the same rows.
const ARCHIVE_LOCK_KEY = 0x61726368697665; // "archive"
const TX = { maxWait: 10_000, timeout: 60_000 };

export interface ArchiveOptions {
  /** Streams whose finishing event was committed before this are archived. */
  before: Date;
  /** Count what would move, move nothing. */
  dryRun?: boolean;
  /** Streams per transaction. */
  batchSize?: number;
  onProgress?: (progress: ArchiveProgress) => void;
}

export interface ArchiveProgress {
  batch: number;
  /** Totals so far. */
  streams: number;
  events: number;
  /** Finished streams left alone because some of their outbox rows are not published yet. */
  skipped: number;
  elapsedMs: number;
  eventsPerSecond: number;
}

export interface ArchiveSummary extends ArchiveProgress {
  dryRun: boolean;
}

interface Candidate {
  position: bigint;
  stream_id: string;
  unpublished: boolean;
}

export async function archiveFinishedStreams(prisma: PrismaClient, options: ArchiveOptions): Promise<ArchiveSummary> {
  const { before, dryRun = false, batchSize = 500, onProgress } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error('batchSize must be a positive integer');
  const started = performance.now();
  const totals = { batch: 0, streams: 0, events: 0, skipped: 0 };
  const progress = (): ArchiveProgress => {
    const elapsedMs = performance.now() - started;
    return { ...totals, elapsedMs, eventsPerSecond: elapsedMs > 0 ? (totals.events * 1000) / elapsedMs : 0 };
  };

  // Keyset over the finishing events' positions: each batch goes on where the last one stopped, so
  // skipped streams are looked at once and the scan never starts over.
  let cursor = 0n;
  for (;;) {
    const page = await prisma.$transaction(async (tx) => {
      const [lock] = await tx.$queryRaw<[{ locked: boolean }]>`
        SELECT pg_try_advisory_xact_lock(${ARCHIVE_LOCK_KEY}::bigint) AS locked`;
      if (!lock?.locked) throw new Error('another archive run holds the lock; try again when it is done');

      const candidates = await tx.$queryRaw<Candidate[]>`
        SELECT e.position, e.stream_id,
          EXISTS (SELECT 1 FROM events s JOIN outbox o ON o.position = s.position
                  WHERE s.stream_id = e.stream_id AND o.published_at IS NULL) AS unpublished
        FROM events e
        WHERE e.position > ${cursor}
          AND e.type IN (${Prisma.join(finishedEventTypes)})
          AND e.committed_at < ${before}
          AND NOT EXISTS (SELECT 1 FROM events later WHERE later.stream_id = e.stream_id AND later.version > e.version)
        ORDER BY e.position
        LIMIT ${batchSize}`;
      if (candidates.length === 0) return null;

      const streams = candidates.filter((c) => !c.unpublished).map((c) => c.stream_id);
      let events = 0;
      if (streams.length > 0 && dryRun) {
        const [{ count }] = await tx.$queryRaw<[{ count: bigint }]>`
          SELECT count(*) AS count FROM events WHERE stream_id IN (${Prisma.join(streams)})`;
        events = Number(count);
      } else if (streams.length > 0) {
        // Copy, then delete exactly what was copied: an event appended meanwhile stays in `events`,
        // where reads still find it after the archived part of its stream.
        events = await tx.$executeRaw`
          INSERT INTO events_archive (position, event_id, stream_id, version, type, schema_version, data, metadata, committed_at)
          SELECT position, event_id, stream_id, version, type, schema_version, data, metadata, committed_at
          FROM events e
          WHERE e.stream_id IN (${Prisma.join(streams)})
            AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.position = e.position AND o.published_at IS NULL)`;
        // The outbox rows (all published) go with their events through the foreign key's cascade.
        await tx.$executeRaw`
          DELETE FROM events e USING events_archive a
          WHERE a.position = e.position AND a.stream_id IN (${Prisma.join(streams)})`;
        await tx.$executeRaw`DELETE FROM snapshots WHERE stream_id IN (${Prisma.join(streams)})`;
      }
      return { cursor: candidates[candidates.length - 1]!.position, streams: streams.length, events, skipped: candidates.length - streams.length };
    }, TX);
    if (!page) break;

    cursor = page.cursor;
    totals.batch += 1;
    totals.streams += page.streams;
    totals.events += page.events;
    totals.skipped += page.skipped;
    onProgress?.(progress());
  }
  return { ...progress(), dryRun };
}
