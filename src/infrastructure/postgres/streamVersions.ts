import type { PrismaClient } from '../../generated/prisma/client.js';
import type { StreamVersions } from '../../projectors/reconcile.js';

/**
 * Cheap aggregate reads over `events` and `outbox` for the read side and the relay, kept out of the
 * event store because no command needs them.
 */
export class PrismaStreamVersions implements StreamVersions {
  constructor(private readonly prisma: PrismaClient) {}

  async changedSince(since: Date) {
    const rows = await this.prisma.event.groupBy({
      by: ['streamId'],
      where: { committedAt: { gte: since } },
      _max: { version: true, position: true },
    });
    return rows.map((row) => ({ streamId: row.streamId, version: row._max.version!, position: row._max.position! }));
  }

  /** Rows not yet published; the partial range of the (published_at, position) index keeps it cheap. */
  async outboxBacklog(): Promise<number> {
    return this.prisma.outbox.count({ where: { publishedAt: null } });
  }
}
