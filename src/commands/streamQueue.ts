import { KeyedQueue } from '../keyedQueue.js';
import type { EventStore } from '../ports.js';

// Commands on one order from one process queue up instead of racing. Appends to a stream are serial
// anyway; racing in-process only wastes a load, a decide and a failed transaction per loser, and under a
// burst (50 items added at once) can exhaust the retries. Races between processes (several command
// replicas) remain, and optimistic concurrency with retries settles those.

const queues = new WeakMap<EventStore, KeyedQueue>();

/** Runs `task` once every earlier task for the same store and stream has settled. */
export function serialized<T>(store: EventStore, streamId: string, task: () => Promise<T>): Promise<T> {
  let queue = queues.get(store);
  if (!queue) queues.set(store, (queue = new KeyedQueue()));
  return queue.run(streamId, task);
}
