import type { PrismaClient } from '../../generated/prisma/client.js';
import type { StreamVersions } from '../../projectors/reconcile.js';

/**
 * Cheap aggregate reads over `events` and `outbox` for the read side and the relay, kept out of the
 * event store because no command needs them.
 */
export class PrismaStreamVersions implements StreamVersions {
  constructor(private readonly prisma: PrismaClient) {}

  async changedSince(since: Date) {
    // The newest event of each stream changed since then, with its id: reconciliation compares both.
    const rows = await this.prisma.$queryRaw<{ stream_id: string; version: number; position: bigint; event_id: string }[]>`
      SELECT DISTINCT ON (stream_id) stream_id, version, position, event_id::text AS event_id
      FROM events WHERE stream_id IN (SELECT DISTINCT stream_id FROM events WHERE committed_at >= ${since})
      ORDER BY stream_id, version DESC`;
    return rows.map((row) => ({ streamId: row.stream_id, version: row.version, position: row.position, eventId: row.event_id }));
  }

  /** Rows not yet published; the partial range of the (published_at, position) index keeps it cheap. */
  async outboxBacklog(): Promise<number> {
    return this.prisma.outbox.count({ where: { publishedAt: null } });
  }
}
