import { randomUUID } from 'node:crypto';
import type { ReadStore } from '../src/ports.js';

/**
 * Puts `member` in `index` (`<collection>:<name>`) at `score`, or moves it there, through the only write
 * path the service has: a document write carrying the index change (a throwaway document of the
 * collection, never read). For tests that need an index in a given shape.
 */
export async function indexAdd(store: Pick<ReadStore, 'apply'>, index: string, member: string, score: number): Promise<void> {
  const colon = index.indexOf(':');
  if (colon <= 0) throw new Error(`index ${index} names no collection: write <collection>:<name>`);
  const at = new Date().toISOString();
  const written = await store.apply(index.slice(0, colon), `index-entry-${randomUUID()}`, 0, { version: 1, eventAt: at, projectedAt: at, data: null }, {
    indexes: [{ index: index.slice(colon + 1), member, score }],
  });
  if (!written) throw new Error(`could not add ${member} to ${index}`);
}
