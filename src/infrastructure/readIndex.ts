import type { VersionedDoc } from '../ports.js';

export interface IndexRangeOptions {
  /** Members to skip, counted from the low end (or the high end when `reverse`). Default 0. */
  offset?: number;
  /** At most this many members. Default: all. */
  limit?: number;
  /** Highest score first. */
  reverse?: boolean;
}

/**
 * What list and stats read models need beyond the `ReadStore` port: sorted indexes of document ids
 * and batch reads. Both read stores implement it with the same semantics (ties in score order by
 * member, as Redis sorted sets do).
 */
export interface IndexHelpers {
  /** Adds `member`, or moves it to `score` when it is already there. */
  indexAdd(index: string, member: string, score: number): Promise<void>;
  indexRange(index: string, options?: IndexRangeOptions): Promise<string[]>;
  indexCount(index: string): Promise<number>;
  /** One entry per id, in the order asked: the document, or null where there is none. */
  getMany<T>(collection: string, ids: readonly string[]): Promise<(VersionedDoc<T> | null)[]>;
}
