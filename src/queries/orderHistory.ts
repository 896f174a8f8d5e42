import { NotFoundError, ValidationError } from '../domain/errors.js';
import { type Caller, isAdmin, upcast } from '../domain/order/index.js';
import type { EventStore, StoredEvent } from '../ports.js';

/** `first` of orderHistory: the default and the most one page may hold. */
export const historyPage = { defaultSize: 50, maxSize: 200 } as const;

export interface HistoryEvent {
  position: string;
  version: number;
  type: string;
  recordedAt: Date;
  /** In its current shape: run through the upcasters, as the domain and projectors see it. */
  data: unknown;
  commandId: string | null;
  correlationId: string | null;
  causationId: string | null;
  userId: string | null;
}

export interface HistoryPage {
  edges: { cursor: string; node: HistoryEvent }[];
  hasNextPage: boolean;
  endCursor: string | null;
}

// A cursor names the last version seen: versions never change, so a page is stable while the order grows.
const encodeCursor = (version: number) => Buffer.from(`v${version}`).toString('base64url');
function decodeCursor(cursor: string): number {
  const match = /^v(\d{1,9})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw new ValidationError('after is not a cursor this API gave out');
  return Number(match[1]);
}

function toHistoryEvent(stored: StoredEvent): HistoryEvent {
  const metadata: Partial<StoredEvent['metadata']> = stored.metadata ?? {};
  return {
    position: stored.position.toString(),
    version: stored.version,
    type: stored.type,
    recordedAt: stored.recordedAt,
    data: upcast(stored.type, stored.schemaVersion, stored.data).data,
    commandId: metadata.commandId ?? null,
    correlationId: metadata.correlationId ?? null,
    causationId: metadata.causationId ?? null,
    userId: metadata.userId ?? null,
  };
}

/** The owner is who the order was created for (an admin may have created it), as the first event says. */
export function ownerOf(events: readonly StoredEvent[]): string | null {
  const first = events[0];
  if (!first || first.version !== 1) return null;
  const created = upcast(first.type, first.schemaVersion, first.data);
  return created.type === 'OrderCreated' ? created.data.userId : null;
}

/**
 * The audit trail of one order, from the event store (the truth), in version order. Only its owner and
 * admins see it; for anyone else it does not exist, exactly like an unknown id.
 */
export async function orderHistory(
  store: EventStore,
  caller: Caller,
  id: string,
  { first, after }: { first?: number | null; after?: string | null },
): Promise<HistoryPage> {
  const size = first ?? historyPage.defaultSize;
  if (!Number.isInteger(size) || size < 1 || size > historyPage.maxSize) throw new ValidationError(`first must be 1-${historyPage.maxSize}`);
  const afterVersion = after == null ? 0 : decodeCursor(after);
  // The owner is in the first event; then one page (and one more event, to know whether another page
  // follows). Never the whole stream: an order may hold thousands of events.
  const owner = ownerOf(await store.readStream(id, 1, 1));
  if (owner === null || (owner !== caller.userId && !isAdmin(caller))) throw new NotFoundError(`order ${id} not found`);
  const rest = await store.readStream(id, afterVersion + 1, size + 1);
  const page = rest.slice(0, size).map(toHistoryEvent);
  return {
    edges: page.map((node) => ({ cursor: encodeCursor(node.version), node })),
    hasNextPage: rest.length > size,
    endCursor: page.length ? encodeCursor(page.at(-1)!.version) : after ?? null,
  };
}
