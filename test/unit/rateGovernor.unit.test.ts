import { describe, expect, it } from 'vitest';
import { RateGovernor } from '../../src/commands/rateGovernor.js';

/** A governor on a clock the test moves, and a way to offer it commands at a rate with a given latency. */
function governed(options: { tolerance?: number; probeEveryMs?: number; minConcurrency?: number } = {}) {
  let now = 0;
  const governor = new RateGovernor({ tolerance: options.tolerance ?? 3, windowMs: 250, probeEveryMs: options.probeEveryMs, minConcurrency: options.minConcurrency, now: () => now });
  const recent: number[] = [];
  /**
   * Offers `perSecond` commands for `ms`, each taking `latencyMs`, or what it says for the rate admitted
   * over the last 250 ms (a machine that slows with load); returns how many were admitted and refused.
   */
  const offer = (perSecond: number, ms: number, latencyMs: number | ((admittedPerSecond: number) => number), concurrency = 0) => {
    let admitted = 0;
    let refused = 0;
    const end = now + ms;
    for (; now < end; now += 1000 / perSecond) {
      if (governor.admit(concurrency)) {
        admitted++;
        recent.push(now);
        while (recent[0]! < now - 250) recent.shift();
        governor.record(typeof latencyMs === 'number' ? latencyMs : latencyMs(recent.length * 4));
      } else refused++;
    }
    return { admitted, refused };
  };
  return { governor, offer };
}

/**
 * A governor on a clock the test moves by hand (for commands that finish apart from when they were let
 * in), after 2 s of 200 commands a second at 3 ms: its baseline.
 */
function calmGovernor() {
  const clock = { now: 0 };
  const governor = new RateGovernor({ tolerance: 3, windowMs: 250, now: () => clock.now });
  for (; clock.now < 2_000; clock.now += 5) if (governor.admit()) governor.record(3);
  return { governor, clock };
}

describe('the rate governor of the command admission', () => {
  it('admits everything while latency stays near its baseline, however high the rate', () => {
    const { governor, offer } = governed();
    expect(offer(200, 5_000, 3)).toEqual({ admitted: 1000, refused: 0 });
    expect(offer(2_000, 5_000, 5)).toEqual({ admitted: 10_000, refused: 0 });
    expect(governor.limit).toBe(Infinity);
    expect(governor.baselineMs).toBe(3);
  });

  it('ignores a pause that slows a few commands, and acts on a slowdown of most of them', () => {
    const { governor, offer } = governed();
    offer(200, 2_000, 3);
    let n = 0;
    offer(200, 2_000, () => (n++ % 7 === 0 ? 40 : 3)); // one in seven slow: the tail, not the median
    expect(governor.limit).toBe(Infinity);
    offer(200, 750, 40); // all of them slow: an overload
    expect(governor.limit).toBeLessThan(200);
  });

  it('judges the onset of an overload within tens of milliseconds, not a window later', () => {
    const { governor, offer } = governed();
    offer(200, 2_000, 3);
    offer(2_000, 40, 40); // 40 ms of an overload: enough commands to judge
    expect(governor.limit).toBeLessThan(2_000);
    expect(governor.shedShare).toBeGreaterThan(0.5); // and most of what comes next is refused before parsing
  });

  it('starts from what the machine finished at the onset, not from what it let in', () => {
    const { governor, clock } = calmGovernor();
    // The onset: 3,000/s arrive for 40 ms and are let in (120), but the machine finishes only one in four
    // of them (30, each having waited 30 ms); the rest are still queued when the window is judged.
    const start = clock.now;
    for (let i = 0; clock.now < start + 40; i++, clock.now += 1000 / 3000) {
      governor.admit(16);
      if (i % 4 === 0) governor.record(30);
    }
    governor.admit(16); // the next arrival closes the window
    // 85 % of what finished (30 in 40 ms: 750/s), where 85 % of what was let in would be 2,550/s.
    expect(governor.limit).toBeLessThan(800);
    expect(governor.limit).toBeGreaterThan(500);
  });

  it('does not cut again for commands admitted before its cut', () => {
    const { governor, clock } = calmGovernor();
    for (const end = clock.now + 30; clock.now < end; clock.now += 1) if (governor.admit(16)) governor.record(30); // an onset: cut
    const cut = governor.limit;
    expect(cut).toBeLessThan(1_000);
    // The next 300 ms: for 80 ms the commands let in before the cut (a full queue) finish, three a
    // millisecond, slow (they waited behind the excess); what the cut rate admits is fast again.
    for (const end = clock.now + 300, old = clock.now + 80; clock.now < end; clock.now += 1) {
      if (clock.now < old) for (let i = 0; i < 3; i++) governor.record(90);
      if (governor.admit(16)) governor.record(3);
    }
    // Counting the old ones, most of the next window was slow: the rate was cut again, to 85 % of itself.
    // Told apart, the window is fast and the rate grows.
    expect(governor.limit).toBeGreaterThan(cut);
  });

  it('does not start for slow commands that are few at once: they are slow for another reason', () => {
    const { governor, offer } = governed({ minConcurrency: 8 });
    offer(200, 2_000, 3, 1);
    offer(200, 2_000, 40, 3); // a slow database: ten times slower, three at once
    expect(governor.limit).toBe(Infinity);
    offer(1_000, 750, 40, 16); // ten times slower with every slot busy: an overload of this process
    expect(governor.limit).toBeLessThan(1_000);
  });

  it('holds the admitted rate below what made latency climb, and refuses the rest', () => {
    const { governor, offer } = governed();
    offer(200, 2_000, 3);
    // Past its capacity, latency climbs: the governor cuts to 85 % of what it admitted.
    offer(1_000, 750, 30);
    const limit = governor.limit;
    expect(limit).toBeLessThanOrEqual(850);
    const { admitted, refused } = offer(1_000, 1_000, 30);
    expect(refused).toBeGreaterThan(0);
    expect(admitted).toBeLessThan(1_000);
    // Still too slow: it keeps cutting, never below its floor.
    offer(1_000, 10_000, 30);
    expect(governor.limit).toBeLessThan(limit);
    expect(governor.limit).toBeGreaterThanOrEqual(10);
  });

  it('raises the rate again while latency is back near the baseline, and lets go once the load is gone', () => {
    const { governor, offer } = governed();
    offer(200, 2_000, 3);
    offer(1_000, 1_000, 30);
    const held = governor.limit;
    offer(1_000, 2_000, 4); // fast again at the held rate: it probes upwards
    expect(governor.limit).toBeGreaterThan(held);
    offer(50, 5_000, 3); // the overload is over
    expect(governor.limit).toBe(Infinity);
    expect(offer(500, 1_000, 3).refused).toBe(0);
  });

  it('does not let go while the HTTP server still refuses before parsing on its behalf', () => {
    const { governor, clock } = calmGovernor();
    for (const end = clock.now + 300; clock.now < end; clock.now += 1) if (governor.admit(16)) governor.record(30); // an onset: cut
    const limit = governor.limit;
    expect(limit).toBeLessThan(Infinity);
    // 5,000 a second still arrive; the server lets through a bit less than the rate, so the admission
    // itself refuses nothing for three seconds, and latency is back at the baseline.
    let credit = 0;
    for (const end = clock.now + 3_000; clock.now < end; clock.now += 1) {
      for (let i = 0; i < 5; i++) governor.noteArrival();
      credit += (0.9 * governor.limit) / 1000;
      if (credit >= 1 && governor.admit(1)) {
        credit -= 1;
        governor.record(3);
      }
    }
    expect(governor.shedShare).toBeGreaterThan(0.5);
    expect(governor.limit).toBeLessThan(Infinity);
  });

  it('does not let go while the admission refuses commands for its queue', () => {
    const { governor, clock } = calmGovernor();
    for (const end = clock.now + 300; clock.now < end; clock.now += 1) if (governor.admit(16)) governor.record(30); // an onset: cut
    // Under the rate, with no arrivals counted by a server, but the queue refusing every 100 ms.
    for (const end = clock.now + 3_000; clock.now < end; clock.now += 10) {
      if (governor.admit(1)) governor.record(3);
      if (clock.now % 100 === 0) governor.noteRefusal();
    }
    expect(governor.limit).toBeLessThan(Infinity);
    // Once neither refuses, it lets go as before.
    for (const end = clock.now + 3_000; clock.now < end; clock.now += 10) if (governor.admit(1)) governor.record(3);
    expect(governor.limit).toBe(Infinity);
  });

  it('settles where latency meets the tolerance, and measures the baseline again during a long overload', () => {
    const { governor, offer } = governed({ probeEveryMs: 10_000 });
    // A machine that takes 3 ms a command up to 150 a second, and 1 ms more for every 60 a second past it.
    const machine = (admittedPerSecond: number) => 3 + Math.max(0, (admittedPerSecond - 150) / 60);
    offer(200, 2_000, machine);
    offer(1_000, 10_000, machine);
    // Two minutes of it: without the probes every window of the last minute would be near the held rate,
    // its median (7 ms and more) would become the baseline, and within a minute everything would be
    // admitted again (seen with probes off: 1,000 a second admitted, baseline 7-11 ms).
    let admitted = 0;
    for (let i = 0; i < 120; i++) admitted += offer(1_000, 1_000, machine).admitted;
    expect(governor.baselineMs).toBe(3);
    // 3 × 3 ms is reached at 510 a second: it holds below that, and admits far more than its floor.
    expect(admitted / 120).toBeGreaterThan(300);
    expect(admitted / 120).toBeLessThan(560);
  });

  it('is off at tolerance 0', () => {
    const { governor, offer } = governed({ tolerance: 0 });
    offer(200, 1_000, 3);
    expect(offer(1_000, 2_000, 300)).toEqual({ admitted: 2_000, refused: 0 });
    expect(governor.limit).toBe(Infinity);
  });
});
