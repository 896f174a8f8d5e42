import type { DeadLetter as DeadLetterRow, PrismaClient } from '../../generated/prisma/client.js';
import type { DeadLetter, DeadLetterKind, DeadLetterStore, RejectedMessage } from '../../ports.js';
import { rejectedLetterId } from '../rejectedLetterId.js';

/** Dead letters in the `dead_letters` table, through Prisma: the same on Postgres and PGlite. */
export class PrismaDeadLetters implements DeadLetterStore {
  constructor(private readonly prisma: PrismaClient) {}

  async record({ consumer, event, reason, deliveries }: Parameters<DeadLetterStore['record']>[0]): Promise<void> {
    const { eventId } = event.metadata;
    await this.prisma.deadLetter.upsert({
      where: { consumer_eventId: { consumer, eventId } },
      create: { consumer, eventId, streamId: event.streamId, version: event.version, position: event.position, reason, deliveries },
      update: { reason, deliveries, failedAt: new Date(), resolvedAt: null },
    });
  }

  async reject({ consumer, streamId, version, messageKey, reason, deliveries }: RejectedMessage): Promise<void> {
    const eventId = rejectedLetterId(consumer, messageKey);
    await this.prisma.deadLetter.upsert({
      where: { consumer_eventId: { consumer, eventId } },
      create: { consumer, kind: 'rejected', eventId, streamId, version, position: 0n, reason, deliveries },
      update: { reason, deliveries, failedAt: new Date(), resolvedAt: null },
    });
  }

  async blocked(consumer: string): Promise<Map<string, number>> {
    const rows = await this.prisma.deadLetter.groupBy({ by: ['streamId'], where: { consumer, kind: 'poison', resolvedAt: null }, _min: { version: true } });
    return new Map(rows.map((row) => [row.streamId, row._min.version!]));
  }

  async list({ unresolvedOnly = false, ids }: { unresolvedOnly?: boolean; ids?: bigint[] } = {}): Promise<DeadLetter[]> {
    const rows = await this.prisma.deadLetter.findMany({
      where: { ...(unresolvedOnly ? { resolvedAt: null } : {}), ...(ids ? { id: { in: ids } } : {}) },
      orderBy: [{ position: 'asc' }, { id: 'asc' }],
    });
    return rows.map(toDeadLetter);
  }

  async markRetried(id: bigint, outcome: { resolved: true } | { resolved: false; reason: string }): Promise<void> {
    const now = new Date();
    await this.prisma.deadLetter.update({
      where: { id },
      data: outcome.resolved ? { retriedAt: now, resolvedAt: now } : { retriedAt: now, reason: outcome.reason },
    });
  }

  async countUnresolved(): Promise<Record<string, number>> {
    const rows = await this.prisma.deadLetter.groupBy({ by: ['consumer'], where: { resolvedAt: null }, _count: { _all: true } });
    return Object.fromEntries(rows.map((row) => [row.consumer, row._count._all]));
  }
}

function toDeadLetter(row: DeadLetterRow): DeadLetter {
  const { id, consumer, eventId, streamId, version, position, reason, deliveries, failedAt, retriedAt, resolvedAt } = row;
  return { id, consumer, kind: row.kind as DeadLetterKind, eventId, streamId, version, position, reason, deliveries, failedAt, retriedAt, resolvedAt };
}
