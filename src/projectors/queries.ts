// Read-model queries for the GraphQL layer. Redis (the ReadStore) only: never the event store.
import { ValidationError } from '../domain/errors.js';
import { type OrderStatus, orderStatuses } from '../domain/order/index.js';
import type { ReadStore, VersionedDoc } from '../ports.js';
import { orderDetails, type OrderDoc } from './orderDetails.js';
import { orderStats as orderStatsProjection, statCounter } from './orderStats.js';
import { orderIndex, userOrders } from './userOrders.js';

export const MAX_PAGE = 100;

export interface OrderPage {
  edges: { cursor: string; doc: VersionedDoc<OrderDoc> }[];
  hasNextPage: boolean;
  endCursor: string | null;
  totalCount: number;
}

// A cursor names the last entry seen (creation time and order id), not an offset, so orders created
// while a client pages do not shift the pages it has yet to read.
interface Position {
  score: number;
  member: string;
}
const encodeCursor = ({ score, member }: Position) => Buffer.from(JSON.stringify([score, member])).toString('base64url');
function decodeCursor(cursor: string): Position {
  try {
    const [score, member] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown[];
    if (typeof score === 'number' && typeof member === 'string') return { score, member };
  } catch {}
  throw new ValidationError('after is not a cursor this API gave out');
}

/**
 * Orders newest first: one user's (`userId`), or everybody's (null, for admins), optionally in one
 * status. An order listed whose details are not projected yet is left out of the page rather than
 * shown half-made; `totalCount` counts the index.
 */
export async function listOrders(
  readStore: ReadStore,
  { userId, status, first = 20, after }: { userId: string | null; status?: OrderStatus | null; first?: number; after?: string | null },
): Promise<OrderPage> {
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE) throw new ValidationError(`first must be 0-${MAX_PAGE}`);
  const relative =
    userId === null ? (status ? orderIndex.byStatus(status) : orderIndex.all) : status ? orderIndex.byUserAndStatus(userId, status) : orderIndex.byUser(userId);
  const index = `${userOrders.collection}:${relative}`;
  let offset = 0;
  let maxScore: number | undefined;
  if (after) {
    const cursor = decodeCursor(after);
    maxScore = cursor.score;
    // Newest first ranks ties by member descending: skip the tied members at or above the cursor's.
    const ties = await readStore.indexRange(index, { minScore: cursor.score, maxScore: cursor.score });
    offset = ties.filter((member) => member >= cursor.member).length;
  }
  const [entries, totalCount] = await Promise.all([
    readStore.indexEntries(index, { reverse: true, maxScore, offset, limit: first + 1 }),
    readStore.indexCount(index),
  ]);
  const page = entries.slice(0, first);
  const docs = await readStore.getMany<OrderDoc>(orderDetails.collection, page.map((entry) => entry.member));
  // A second line behind the index names: a customer's page holds only documents that say they are theirs.
  const edges = page.flatMap((entry, i) => {
    const doc = docs[i];
    return doc && (userId === null || doc.data.userId === userId) ? [{ cursor: encodeCursor(entry), doc }] : [];
  });
  return { edges, hasNextPage: entries.length > first, endCursor: page.length ? encodeCursor(page.at(-1)!) : null, totalCount };
}

export interface OrderStatsAnswer {
  totalOrders: number;
  revenueCents: number;
  byStatus: { status: OrderStatus; count: number }[];
  /** `version` counts the events folded in; null before the first. */
  freshness: { version: number; eventAt: string; projectedAt: string } | null;
}

/** Counts per status and revenue (totals of orders in PAID, SHIPPED or DELIVERED). */
export async function orderStats(readStore: ReadStore): Promise<OrderStatsAnswer> {
  const { values, events, eventAt, projectedAt } = await readStore.counters(orderStatsProjection.collection);
  return {
    totalOrders: values[statCounter.orders] ?? 0,
    revenueCents: values[statCounter.revenueCents] ?? 0,
    byStatus: orderStatuses.map((status) => ({ status, count: values[statCounter.status(status)] ?? 0 })),
    freshness: eventAt && projectedAt ? { version: events, eventAt, projectedAt } : null,
  };
}
