import { ServiceUnavailableError } from '../domain/errors.js';
import { ACTIVE_NAMESPACE_TTL_MS } from '../infrastructure/readIndex.js';
import type { ReadStore } from '../ports.js';
import type { Projection } from '../projectors/projection.js';
import { completeMarker } from '../projectors/rebuild.js';

/**
 * A missing document means "no such order" only while its read model is complete. After Redis lost its
 * data (a flush, a restart without persistence) the projector rebuilds, and until the rebuild switches
 * (and writes the completeness marker), and a moment after, an order that exists may have no document: answer
 * SERVICE_UNAVAILABLE then, never null. Free when the document is found; one more read when it is not.
 */
export function withCompleteness(readStore: ReadStore, projections: readonly Projection<unknown>[]): ReadStore {
  const byCollection = new Map(projections.map((projection) => [projection.collection, projection]));
  const get: ReadStore['get'] = async (collection, id) => {
    const doc = await readStore.get(collection, id);
    const projection = byCollection.get(collection);
    if (doc !== null || !projection) return doc as never;
    // Readers cache the active namespace for a moment, so just after a rebuild switched one may still
    // look in the namespace Redis emptied: a miss counts only once that moment has surely passed.
    const completeAt = Date.parse((await readStore.getInfo(completeMarker(projection))).at ?? '');
    if (Date.now() - completeAt > 2 * ACTIVE_NAMESPACE_TTL_MS) return null;
    throw new ServiceUnavailableError(`the ${projection.name} read model is being rebuilt; try again shortly`, { server: 'redis', retryAfterSeconds: 2, rebuilding: projection.name });
  };
  return new Proxy(readStore, {
    get: (target, property, receiver) => (property === 'get' ? get : Reflect.get(target, property, receiver)),
  });
}
