// How both read stores lay out names: which collection (and so which namespace) a name belongs to, and,
// on a Redis Cluster, which slot an index shares.

import type { DocHead } from '../ports.js';

/** The collection an index or checkpoint name belongs to, and so its namespace. */
export function collectionOf(name: string): string {
  const colon = name.indexOf(':');
  return colon === -1 ? name : name.slice(0, colon);
}

/** Namespace ids are positive integers, handed out by one counter; '' is the root. */
export const ROOT_NAMESPACE = '';

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

/** A document's head as both read stores answer it: no `eventId` key when none was recorded. */
export function docHead(version: number, eventId: string | null | undefined): DocHead {
  return { version, ...(eventId ? { eventId } : {}) };
}
