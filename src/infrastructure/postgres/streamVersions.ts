import type { PrismaClient } from '../../generated/prisma/client.js';
import type { StreamPage, StreamVersions } from '../../ports.js';

/**
 * Cheap aggregate reads over `events` and `outbox` for the read side and the relay, kept out of the
 * event store because no command needs them.
 */
export class PrismaStreamVersions implements StreamVersions {
  constructor(private readonly prisma: PrismaClient) {}

  async changedSince(since: Date, page: StreamPage = {}) {
    // The newest event of each stream changed since then, with its id: reconciliation compares both. A
    // page is a range of stream ids (LIMIT NULL is no limit).
    const rows = await this.prisma.$queryRaw<{ stream_id: string; version: number; position: bigint; event_id: string }[]>`
      SELECT DISTINCT ON (stream_id) stream_id, version, position, event_id::text AS event_id
      FROM events WHERE stream_id IN (
        SELECT DISTINCT stream_id FROM events WHERE committed_at >= ${since} AND stream_id > ${page.after ?? ''}
        ORDER BY stream_id LIMIT ${page.limit ?? null})
      ORDER BY stream_id, version DESC`;
    return rows.map((row) => ({ streamId: row.stream_id, version: row.version, position: row.position, eventId: row.event_id }));
  }

  /** Rows still to publish (dead-lettered ones are not); the (published_at, position) index keeps it cheap. */
  async outboxBacklog(): Promise<number> {
    return this.prisma.outbox.count({ where: { publishedAt: null, deadLetteredAt: null } });
  }

  /** Age of the oldest row neither published nor dead-lettered; 0 when there is none. */
  async oldestPendingMs(): Promise<number> {
    const [row] = await this.prisma.$queryRaw<[{ ms: number | null }]>`
      SELECT (extract(epoch FROM now() - min(created_at)) * 1000)::float8 AS ms
      FROM outbox WHERE published_at IS NULL AND dead_lettered_at IS NULL`;
    return row?.ms ?? 0;
  }
}
