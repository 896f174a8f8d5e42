import { afterEach, beforeEach } from 'vitest';
import type { VersionedDoc } from '../../src/ports.js';
import { uniqueName } from '../services.js';

/** The collection the read-store suites write to, unless a test needs one of its own. */
export const collection = 'orders';

export function orderDoc(version: number, data: unknown = { note: `at v${version}` }): VersionedDoc {
  return {
    version,
    eventAt: new Date(Date.UTC(2026, 0, 1, 12, 0, version)).toISOString(),
    projectedAt: new Date().toISOString(),
    data,
  };
}

/**
 * A store per test, so that with the server down every test fails rather than being skipped, and a fresh
 * order id; `use` receives both before each test.
 */
export function storePerTest<S>(make: () => Promise<{ store: S; cleanup(): Promise<void> }>, use: (store: S, id: string) => void): void {
  let cleanup: (() => Promise<void>) | undefined;
  beforeEach(async () => {
    const made = await make();
    cleanup = made.cleanup;
    use(made.store, uniqueName('order'));
  });
  afterEach(async () => {
    await cleanup?.();
  });
}
