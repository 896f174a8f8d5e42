import type { DeadLetter, DeadLetterStore, RejectedMessage } from '../../ports.js';
import { rejectedLetterId } from '../rejectedLetterId.js';

/** The embedded twin of `PrismaDeadLetters`: kept for the life of the process, as the embedded read store is. */
export class MemoryDeadLetters implements DeadLetterStore {
  private readonly letters: DeadLetter[] = [];

  async record({ consumer, event, reason, deliveries }: Parameters<DeadLetterStore['record']>[0]): Promise<void> {
    const existing = this.letters.find((letter) => letter.consumer === consumer && letter.eventId === event.metadata.eventId);
    if (existing) return void Object.assign(existing, { reason, deliveries, failedAt: new Date(), resolvedAt: null });
    const { streamId, version, position } = event;
    const id = BigInt(this.letters.length + 1);
    this.letters.push({ id, consumer, kind: 'poison', eventId: event.metadata.eventId, streamId, version, position, reason, deliveries, failedAt: new Date(), retriedAt: null, resolvedAt: null });
  }

  async reject({ consumer, streamId, version, messageKey, reason, deliveries }: RejectedMessage): Promise<void> {
    const eventId = rejectedLetterId(consumer, messageKey);
    const existing = this.letters.find((letter) => letter.consumer === consumer && letter.eventId === eventId);
    if (existing) return void Object.assign(existing, { reason, deliveries, failedAt: new Date(), resolvedAt: null });
    const id = BigInt(this.letters.length + 1);
    this.letters.push({ id, consumer, kind: 'rejected', eventId, streamId, version, position: 0n, reason, deliveries, failedAt: new Date(), retriedAt: null, resolvedAt: null });
  }

  async blocked(consumer: string): Promise<Map<string, number>> {
    const blocked = new Map<string, number>();
    for (const letter of this.letters)
      if (letter.consumer === consumer && letter.kind === 'poison' && !letter.resolvedAt) blocked.set(letter.streamId, Math.min(letter.version, blocked.get(letter.streamId) ?? Infinity));
    return blocked;
  }

  async list({ unresolvedOnly = false, ids }: { unresolvedOnly?: boolean; ids?: bigint[] } = {}): Promise<DeadLetter[]> {
    return this.letters
      .filter((letter) => (!unresolvedOnly || !letter.resolvedAt) && (!ids || ids.includes(letter.id)))
      .sort((a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : 0))
      .map((letter) => ({ ...letter }));
  }

  async markRetried(id: bigint, outcome: { resolved: true } | { resolved: false; reason: string }): Promise<void> {
    const letter = this.letters.find((candidate) => candidate.id === id);
    if (!letter) throw new Error(`no dead letter ${id}`);
    letter.retriedAt = new Date();
    if (outcome.resolved) letter.resolvedAt = letter.retriedAt;
    else letter.reason = outcome.reason;
  }

  async countUnresolved(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const letter of this.letters) if (!letter.resolvedAt) counts[letter.consumer] = (counts[letter.consumer] ?? 0) + 1;
    return counts;
  }
}
