/**
 * A direct index write, outside any document write: for tools and tests. Projections change indexes
 * only through `ReadStore.apply`, so an index never disagrees with the document versions.
 */
export interface IndexHelpers {
  /** Adds `member` to `index` (`<collection>:<name>`), or moves it to `score` when it is already there. */
  indexAdd(index: string, member: string, score: number): Promise<void>;
}

/** The collection an index or checkpoint name belongs to, and so its namespace. */
export function collectionOf(name: string): string {
  const colon = name.indexOf(':');
  return colon === -1 ? name : name.slice(0, colon);
}

/** Namespace ids are positive integers, handed out by one counter; '' is the root. */
export const ROOT_NAMESPACE = '';

/** How long a process may keep serving a namespace after it was switched away (its cache of the active one). */
export const ACTIVE_NAMESPACE_TTL_MS = 1000;

/**
 * Which keys share a hash slot on a Redis Cluster, for an index `<collection>:<name>`: an owner's
 * indexes (`user:<u>…`) live together in the owner's slot, so one user's pages are read from one node
 * and users spread over the masters; every other index lives with the collection's counters, in the
 * collection's slot. Both stores key by it; an embedded store ignores it.
 */
export function slotGroupOf(index: string): string {
  const collection = collectionOf(index);
  const parts = index.slice(collection.length + 1).split(':');
  return parts[0] === 'user' && parts.length >= 2 ? `${collection}:user:${parts[1]}` : collection;
}
