import type { VersionedDoc } from '../../src/ports.js';

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
