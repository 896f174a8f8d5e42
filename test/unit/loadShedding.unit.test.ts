import { afterEach, describe, expect, it } from 'vitest';
import { LoadShedder } from '../../src/loadShedding.js';

const shedders: LoadShedder[] = [];
afterEach(() => shedders.splice(0).forEach((shedder) => shedder.stop()));

/** A shedder whose lag controller targets 30 ms, driven by hand (`observe`) rather than by its timer. */
function shedder(busy: () => boolean) {
  const made = new LoadShedder(0, 60_000, { probability: () => 0, busy }, 30);
  shedders.push(made);
  return made;
}

/** `ticks` ticks of 20 ms, each `lateMs` late, from `from` on; returns the time after the last. */
function ticks(target: LoadShedder, lateMs: number, count: number, from = 0): number {
  let now = from;
  for (let i = 0; i < count; i++) target.observe(lateMs, (now += 20));
  return now;
}

const shareShed = (target: LoadShedder, draws = 4_000) => Array.from({ length: draws }, () => target.shouldShed()).filter(Boolean).length / draws;

describe('when commands fill the admission and the event loop stays late', () => {
  it('refuses a growing share of new POSTs, about one more in every hundred per tick at twice the target', () => {
    const target = shedder(() => true);
    const end = ticks(target, 60, 5); // 100 ms standing: nothing yet
    expect(target.lagShedProbability).toBe(0);
    ticks(target, 60, 25, end); // half a second more at twice the target
    expect(target.lagShedProbability).toBeCloseTo(0.5, 1);
    expect(shareShed(target)).toBeGreaterThan(0.4);
    expect(shareShed(target)).toBeLessThan(0.6);
  });

  it('lets the share fall back to none once the loop is on time', () => {
    const target = shedder(() => true);
    const end = ticks(target, 90, 30);
    expect(target.lagShedProbability).toBeGreaterThan(0.5);
    ticks(target, 0, 60, end);
    expect(target.lagShedProbability).toBe(0);
    expect(shareShed(target)).toBe(0);
  });
});

describe('when the event loop is late but the admission refuses nothing', () => {
  it('refuses nothing: a burst of reads (2,000 long polls at once) is not a command overload', () => {
    const target = shedder(() => false);
    ticks(target, 500, 100);
    expect(target.lagShedProbability).toBe(0);
    expect(shareShed(target)).toBe(0);
  });
});

describe('when the loop is late for less than the standing time', () => {
  it('refuses nothing: one slow moment (a collection, a large batch) is not an overload', () => {
    const target = shedder(() => true);
    let now = 0;
    for (let i = 0; i < 50; i++) {
      now = ticks(target, 200, 4, now); // 80 ms late
      now = ticks(target, 5, 1, now); // then on time
    }
    expect(target.lagShedProbability).toBe(0);
  });
});
