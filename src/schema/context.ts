import type { Logger } from 'pino';
import type { CommandHandlers } from '../commands/index.js';
import { RoleNotServedError, type UnauthenticatedError } from '../domain/errors.js';
import type { Caller } from '../domain/order/index.js';
import type { ChangeFeed, DocumentStore, EventStore, IndexReader, ReadCoordination, ReceiptStore } from '../ports.js';
import type { OrderHistory } from '../queries/orderUpdates.js';
import type { VersionWaiter } from '../queries/versionWaiter.js';
import type { SubscriptionQuota } from '../security/subscriptionQuota.js';

/** What resolvers may use; a role that is not running leaves its part null. */
export interface Services {
  commands: CommandHandlers | null;
  /** Where the command role records ACCEPTED and APPENDED once a command has succeeded; best effort, a command never fails on it. */
  receipts: ReceiptStore | null;
  log: Logger;
  reads: {
    /** Documents and indexes for reads; coordination for projection status (read only). */
    readStore: DocumentStore & IndexReader & ReadCoordination;
    feed: ChangeFeed;
    waiter: VersionWaiter;
    history: OrderHistory;
    /** The event store for orderHistory and order(atVersion), opened read only on first need. */
    events: () => Promise<EventStore>;
    receipts: ReceiptStore;
  } | null;
  /** MAX_SUBSCRIPTIONS_PER_CALLER over WebSocket and SSE together, and SUBSCRIPTION_STALL_MS. */
  subscriptions: { quota: SubscriptionQuota; max: number; stallMs: number };
}

export interface Context {
  caller: Caller | null;
  /** Why the presented credentials were refused, raised only when a field needs a caller. */
  authError: UnauthenticatedError | null;
  correlationId: string;
  services: Services;
  /** Closes the connection this operation came on (a stalled subscriber's); absent where there is none. */
  drop?: (() => void) | undefined;
}

/** The context of a field behind the signedIn or admin scope (builder.ts): its caller is there. */
export type SignedIn = Context & { caller: Caller };

export function requireService<K extends keyof Services>(context: Context, name: K): NonNullable<Services[K]> {
  const service = context.services[name];
  if (!service) throw new RoleNotServedError(`this instance does not run the ${name === 'commands' ? 'command' : 'query'} role`);
  return service as NonNullable<Services[K]>;
}
