import { describe, expect, it } from 'vitest';
import { Admission } from '../../src/commands/admission.js';
import { RateGovernor } from '../../src/commands/rateGovernor.js';
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

describe('when the queue stands (an overload, not a burst)', () => {
  it('admits the newest waiter first and refuses those that waited past the target', async () => {
    const admission = new Admission({ maxInFlight: 1, maxQueued: 10, queueTimeoutMs: 60_000, queueTargetMs: 40, standingMs: 10 });
    const first = held();
    const running = admission.run(first.task);
    const order: string[] = [];
    const old = admission.run(async () => void order.push('old')).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 80)); // the queue has stood for 80 ms, and so has its only waiter
    const fresh = admission.run(async () => void order.push('fresh'));
    first.release();
    await Promise.all([running, fresh]);
    expect(await old).toBeInstanceOf(ServiceUnavailableError);
    expect(order).toEqual(['fresh']);
  });

  it('keeps FIFO order and the long timeout for a burst that drains', async () => {
    const admission = new Admission({ maxInFlight: 1, maxQueued: 10, queueTimeoutMs: 60_000, queueTargetMs: 5, standingMs: 1_000 });
    const first = held();
    const running = admission.run(first.task);
    const order: number[] = [];
    const queued = [1, 2].map((n) => admission.run(async () => void order.push(n)));
    await new Promise((resolve) => setTimeout(resolve, 20)); // waited past the target, but the queue is young
    first.release();
    await Promise.all([running, ...queued]);
    expect(order).toEqual([1, 2]);
  });
});

describe('when the admission refuses commands', () => {
  it('asks the HTTP server to refuse a share of new requests before parsing, and stops asking within seconds', async () => {
    const admission = new Admission({ maxInFlight: 1, maxQueued: 0, queueTimeoutMs: 60_000 });
    expect(admission.probability()).toBe(0);
    const first = held();
    const running = admission.run(first.task);
    for (let i = 0; i < 30; i++) await admission.run(async () => {}).catch(() => {});
    const now = performance.now();
    expect(admission.probability(now)).toBeGreaterThan(0.2);
    expect(admission.probability(now + 10_000)).toBe(0);
    first.release();
    await running;
  });
});

describe('when the queue stands', () => {
  it('tells the HTTP server it is saturated once requests in the process exceed what it can hold, and only then', async () => {
    const admission = new Admission({ maxInFlight: 1, maxQueued: 2, queueTimeoutMs: 60_000, queueTargetMs: 5, standingMs: 10 });
    const first = held();
    const running = admission.run(first.task);
    const queued = [admission.run(async () => {})].map((p) => p.catch(() => 'refused'));
    expect(admission.saturated(3)).toBe(false); // the queue is young and has room: a burst, not an overload
    queued.push(admission.run(async () => {}).catch(() => 'refused'));
    expect(admission.saturated(3)).toBe(true); // full: a command arriving now would be refused after its parse
    expect(admission.saturated(2)).toBe(false); // fewer than in flight plus queued
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(admission.saturated(2)).toBe(false); // fewer than in flight plus queued
    expect(admission.saturated(3)).toBe(true);
    first.release();
    await Promise.all([running, ...queued]);
    expect(admission.saturated(100)).toBe(false); // the queue emptied: nothing stands
  });
});

describe('while the rate governor holds a rate', () => {
  /** A governor on a clock the test moves, cut by an overload: it governs, at 5 × its 3 ms baseline. */
  function governing() {
    const clock = { now: 0 };
    const governor = new RateGovernor({ tolerance: 5, windowMs: 250, now: () => clock.now });
    for (; clock.now < 2_000; clock.now += 5) if (governor.admit()) governor.record(3);
    for (const end = clock.now + 300; clock.now < end; clock.now += 1) if (governor.admit()) governor.record(30);
    return { governor, clock };
  }

  it('treats its queue as standing at once: newest first, and a wait past the latency it holds to is refused', async () => {
    const { governor, clock } = governing();
    expect(governor.targetMs).toBe(15);
    // The queue would stand only after a minute: what makes it stand here is the governor.
    const admission = new Admission({ maxInFlight: 1, maxQueued: 10, queueTimeoutMs: 60_000, queueTargetMs: 500, standingMs: 60_000 }, governor);
    const step = () => (clock.now += 200); // a token for each command
    step();
    const first = held();
    const running = admission.run(first.task);
    const order: string[] = [];
    step();
    const old = admission.run(async () => void order.push('old')).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 60)); // past the 15 ms it holds commands to, short of the queue target
    step();
    const fresh = admission.run(async () => void order.push('fresh'));
    first.release();
    await Promise.all([running, fresh]);
    expect(await old).toBeInstanceOf(ServiceUnavailableError);
    expect(order).toEqual(['fresh']);
  });
});
