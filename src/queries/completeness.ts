import { ServiceUnavailableError } from '../domain/errors.js';
import type { DocumentStore, ReadCoordination } from '../ports.js';
import { completeMarker, type Projection } from '../readModels/projection.js';

/**
 * A missing document means "no such order" only while its read model is complete. When Redis loses its
 * data (a flush, a restart without persistence) the completeness marker goes with it and the projector
 * rebuilds; until the rebuild has switched (and a moment after, while readers may still look in the
 * namespace Redis emptied), an order that exists may have no document: answer SERVICE_UNAVAILABLE then,
 * never null. Free when the document is found; one more read when it is not.
 *
 * "Lost" needs a memory of "complete": this process remembers having seen the marker. A deployment whose
 * read models were never complete (no projector has run yet) answers null for a missing order, as before.
 */
export function withCompleteness<S extends DocumentStore & Pick<ReadCoordination, 'getInfo' | 'namespaces'>>(readStore: S, projections: readonly Projection<unknown>[]): S {
  const byCollection = new Map(projections.map((projection) => [projection.collection, projection]));
  const state = new Map<string, { seenComplete: boolean; lost: boolean }>();
  const marker = async (projection: Projection<unknown>) => Date.parse((await readStore.getInfo(completeMarker(projection))).at ?? '');

  const missing = async (projection: Projection<unknown>): Promise<null> => {
    const known = state.get(projection.collection) ?? { seenComplete: false, lost: false };
    state.set(projection.collection, known);
    // Never seen complete: nothing can have been lost (and `learn` keeps looking, once a second).
    if (!known.seenComplete) return null;
    const completeAt = await marker(projection);
    if (Number.isNaN(completeAt)) {
      known.lost = true;
    } else {
      if (!known.lost || Date.now() - completeAt > 2 * readStore.namespaces.activeCacheMs) {
        known.seenComplete = true;
        known.lost = false;
        return null;
      }
    }
    throw new ServiceUnavailableError(`the ${projection.name} read model is being rebuilt; try again shortly`, { server: 'redis', retryAfterSeconds: 2, rebuilding: projection.name });
  };

  // Until it has seen the marker, a process looks for it at most once a second, whatever the reads find:
  // one round trip a second while a read model is not complete yet, none after.
  const learning = new Map<string, { at: number; pending: Promise<void> | null }>();
  const learn = async (projection: Projection<unknown>) => {
    const entry = learning.get(projection.collection) ?? { at: 0, pending: null };
    learning.set(projection.collection, entry);
    if (!entry.pending && Date.now() - entry.at >= 1000) {
      entry.at = Date.now();
      entry.pending = marker(projection)
        .then(
          (at) => {
            const known = state.get(projection.collection);
            if (!Number.isNaN(at) && !known?.lost) state.set(projection.collection, { seenComplete: true, lost: false });
          },
          () => {},
        )
        .finally(() => (entry.pending = null));
    }
    await entry.pending;
  };

  const get: DocumentStore['get'] = async (collection, id, options) => {
    const projection = byCollection.get(collection);
    if (projection && !state.get(collection)?.seenComplete) await learn(projection);
    const doc = await readStore.get(collection, id, options);
    if (doc !== null || !projection) return doc as never;
    return missing(projection);
  };
  return new Proxy(readStore, {
    get: (target, property, receiver) => (property === 'get' ? get : Reflect.get(target, property, receiver)),
  });
}
