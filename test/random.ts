// The one seeded random source of the tests, their fixtures and the fault harness: the same seed gives the
// same sequence on every machine, so a failing run repeats (BARRAGE_SEED, `npm run test:faults -- --seed`).
// mulberry32, written out rather than taken from a package: the seeds recorded in the docs and in fault
// reports replay only with this very sequence, and a library's generator would change every one of them.

export interface Random {
  /** A float in [0, 1). */
  (): number;
  /** An integer from min to max, both included. */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  chance(probability: number): boolean;
  text(length: number, alphabet?: string): string;
  bytes(length: number): Buffer;
}

export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  return Object.assign(next, {
    int,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new Error('pick from an empty list');
      return items[int(0, items.length - 1)]!;
    },
    chance: (probability: number) => next() < probability,
    text: (length: number, alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789') =>
      Array.from({ length }, () => alphabet[int(0, alphabet.length - 1)]).join(''),
    bytes: (length: number) => Buffer.from(Array.from({ length }, () => int(0, 255))),
  });
}
