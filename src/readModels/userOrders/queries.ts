// The order list: the read store only, never the event store. Pages come from this read model's
// indexes; the orders on them are the order-details documents, so a page shows what `order(id)` shows.
import { ValidationError } from '../../domain/errors.js';
import type { OrderStatus } from '../../domain/order/index.js';
import type { DocumentStore, IndexReader, VersionedDoc } from '../../ports.js';
import { orderDetailsCollection } from '../orderDetails/keys.js';
import type { OrderDoc } from '../orderDetails/projection.js';
import { orderIndex, userOrdersCollection } from './keys.js';

export const MAX_PAGE = 100;

export interface OrderPage {
  edges: { cursor: string; node: VersionedDoc<OrderDoc> }[];
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
  readStore: DocumentStore & IndexReader,
  { userId, status, first = 20, after }: { userId: string | null; status?: OrderStatus | null; first?: number; after?: string | null },
): Promise<OrderPage> {
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE) throw new ValidationError(`first must be 0-${MAX_PAGE}`);
  const relative =
    userId === null ? (status ? orderIndex.byStatus(status) : orderIndex.all) : status ? orderIndex.byUserAndStatus(userId, status) : orderIndex.byUser(userId);
  const index = `${userOrdersCollection}:${relative}`;
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
  const docs = await readStore.getMany<OrderDoc>(orderDetailsCollection, page.map((entry) => entry.member));
  // A second line behind the index names: a customer's page holds only documents that say they are theirs.
  const edges = page.flatMap((entry, i) => {
    const doc = docs[i];
    return doc && (userId === null || doc.data.userId === userId) ? [{ cursor: encodeCursor(entry), node: doc }] : [];
  });
  return { edges, hasNextPage: entries.length > first, endCursor: page.length ? encodeCursor(page.at(-1)!) : null, totalCount };
}
