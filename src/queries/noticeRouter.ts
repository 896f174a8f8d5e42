import type { ChangeFeed, ChangeNotice } from '../ports.js';

type Handler = (notice: ChangeNotice) => void;

/** What a watcher listens to: one order's notices, or the notices of every order of one user. */
export type Route = { collection: string; id: string } | { collection: string; userId: string };

const keyOf = (route: Route) => ('id' in route ? `${route.collection}\u0000id\u0000${route.id}` : `${route.collection}\u0000user\u0000${route.userId}`);

/**
 * One change-feed subscription per feed (per process), dispatching each notice to the watchers of its
 * order and of its owner only: two map lookups per notice, whatever the number of subscribers, where
 * a handler per subscriber called for every notice would cost each notice O(subscribers).
 */
export class NoticeRouter {
  private readonly routes = new Map<string, Set<Handler>>();
  private joined: Promise<unknown> | null = null;

  constructor(
    private readonly feed: ChangeFeed,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  /** Calls `handler` for every notice of `route` from now on; resolves, once joined, to an unsubscribe. */
  async watch(route: Route, handler: Handler): Promise<() => Promise<void>> {
    await (this.joined ??= this.feed.subscribe((notice) => this.dispatch(notice)).catch((error: unknown) => {
      this.joined = null; // the next watcher tries again
      throw error;
    }));
    const key = keyOf(route);
    let set = this.routes.get(key);
    if (!set) this.routes.set(key, (set = new Set()));
    // A wrapper per call, so watching with the same function twice gives two independent watches.
    const entry: Handler = (notice) => handler(notice);
    set.add(entry);
    return async () => {
      set.delete(entry);
      if (set.size === 0 && this.routes.get(key) === set) this.routes.delete(key);
    };
  }

  /** Watchers in all, for tests and metrics. */
  get size(): number {
    let count = 0;
    for (const set of this.routes.values()) count += set.size;
    return count;
  }

  private dispatch(notice: ChangeNotice): void {
    const byId = this.routes.get(keyOf({ collection: notice.collection, id: notice.id }));
    const byUser = notice.userId === undefined ? undefined : this.routes.get(keyOf({ collection: notice.collection, userId: notice.userId }));
    for (const set of [byId, byUser])
      if (set)
        for (const handler of [...set]) {
          try {
            handler(notice);
          } catch (error) {
            this.onError(error);
          }
        }
  }
}

const routers = new WeakMap<ChangeFeed, NoticeRouter>();

/** The router of `feed`: every watcher of one feed shares one subscription to it. */
export function routerOf(feed: ChangeFeed): NoticeRouter {
  let router = routers.get(feed);
  if (!router) routers.set(feed, (router = new NoticeRouter(feed)));
  return router;
}
