import { describe, expect, it } from 'vitest';
import { Admission } from '../../src/commands/admission.js';
import { ServiceUnavailableError } from '../../src/domain/errors.js';

/** A task that runs until released, to hold a slot. */
function held() {
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  return { task: () => done, release };
}

describe('when the command path is at capacity', () => {
  it('queues up to the limit and refuses the next one at once with SERVICE_UNAVAILABLE and a retry delay', async () => {
    const admission = new Admission({ maxInFlight: 2, maxQueued: 1, queueTimeoutMs: 60_000 });
    const slots = [held(), held(), held()];
    const running = slots.map((slot) => admission.run(slot.task));
    const refused = await admission.run(async () => 'ran').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ServiceUnavailableError);
    expect((refused as ServiceUnavailableError).details).toMatchObject({ retryAfterSeconds: 1 });
    for (const slot of slots) slot.release();
    await Promise.all(running);
  });

  it('hands a finished slot to the oldest waiter, and runs everything it admitted', async () => {
    const admission = new Admission({ maxInFlight: 1, maxQueued: 5, queueTimeoutMs: 60_000 });
    const order: number[] = [];
    const first = held();
    const running = [admission.run(first.task), ...[1, 2, 3].map((n) => admission.run(async () => void order.push(n)))];
    first.release();
    await Promise.all(running);
    expect(order).toEqual([1, 2, 3]);
  });

  it('refuses a queued command that waited longer than the queue timeout, and runs none of it', async () => {
    const admission = new Admission({ maxInFlight: 1, maxQueued: 5, queueTimeoutMs: 20 });
    const first = held();
    const running = admission.run(first.task);
    let ran = false;
    await expect(admission.run(async () => void (ran = true))).rejects.toBeInstanceOf(ServiceUnavailableError);
    first.release();
    await running;
    expect(ran).toBe(false);
  });
});
