// Work that must not overlap for one key (one order, one stream) while different keys run side by side.
// Used by the command path (one order's commands queue up), the projector (one order's events in order)
// and the outbox relay (one stream's events in position order). No well-kept package does per-key
// ordering with this little: p-queue bounds how many run at once, which is the other half these pair with.

/** Runs tasks one at a time per key, in arrival order; a failed task does not hold back the next one. */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const result = (this.tails.get(key) ?? Promise.resolve()).then(task);
    const tail = result.then(
      () => {},
      () => {},
    );
    this.tails.set(key, tail);
    // An idle key keeps no entry.
    void tail.then(() => this.tails.get(key) === tail && this.tails.delete(key));
    return result;
  }

  /** Keys with a task running or waiting. */
  get size(): number {
    return this.tails.size;
  }
}
