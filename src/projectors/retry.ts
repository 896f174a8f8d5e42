import type { DeadLetter, DeadLetterStore, EventStore } from '../ports.js';
import { consumerOf, type Projection } from '../readModels/projection.js';
import { type ApplyDeps, applyEvent } from './runtime.js';

export interface RetryOutcome {
  letter: DeadLetter;
  outcome: 'applied' | 'duplicate' | 'repaired' | 'discarded' | 'requeued' | 'failed';
  reason?: string;
}

/**
 * Applies dead letters again, oldest first, straight through `applyEvent` (the bus gave up on them long
 * ago). One that applies, or is found already applied, is resolved; one that fails again keeps its row
 * with the new reason. Run it after fixing what made the event fail. A rejected message (never in the
 * event store) is discarded: resolved, nothing applied.
 */
export async function retryDeadLetters(
  deps: ApplyDeps & { store: EventStore; deadLetters: DeadLetterStore; requeueOutbox?: (position: bigint) => Promise<void> },
  projections: readonly Projection<unknown>[],
  which: bigint[] | 'all',
): Promise<RetryOutcome[]> {
  const letters = await deps.deadLetters.list({ unresolvedOnly: true, ...(which === 'all' ? {} : { ids: which }) });
  const outcomes: RetryOutcome[] = [];
  for (const letter of letters) {
    const projection = projections.find((candidate) => consumerOf(candidate.name) === letter.consumer);
    if (letter.kind === 'rejected') {
      // Never an event of the store: nothing to apply. Retrying it acknowledges it and clears the count.
      await deps.deadLetters.markRetried(letter.id, { resolved: true });
      outcomes.push({ letter, outcome: 'discarded', reason: 'not an event of the store: discarded' });
      continue;
    }
    try {
      if (letter.kind === 'unpublished') {
        // The relay gave up on it: hand the outbox row back, and the relay publishes it on its next pass.
        if (!deps.requeueOutbox) throw new Error('this tool cannot requeue outbox rows');
        await deps.requeueOutbox(letter.position);
        await deps.deadLetters.markRetried(letter.id, { resolved: true });
        outcomes.push({ letter, outcome: 'requeued' });
        continue;
      }
      if (!projection) throw new Error(`no projection consumes as ${letter.consumer}`);
      const [event] = await deps.store.readStream(letter.streamId, letter.version);
      if (event?.version !== letter.version) throw new Error(`event store lacks ${letter.streamId} v${letter.version}`);
      const outcome = await applyEvent(deps, projection, event);
      await deps.deadLetters.markRetried(letter.id, { resolved: true });
      outcomes.push({ letter, outcome });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      await deps.deadLetters.markRetried(letter.id, { resolved: false, reason });
      outcomes.push({ letter, outcome: 'failed', reason });
    }
  }
  return outcomes;
}
