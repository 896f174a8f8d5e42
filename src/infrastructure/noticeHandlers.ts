import type { ChangeNotice } from '../ports.js';

/**
 * A change feed's local subscribers, shared by the Redis feed and its in-memory twin: each notice text is
 * parsed once per feed (so processes, and feeds, never share a notice object) and handed to every
 * handler; one that throws, or a text that is not JSON, is told to `onError` and stops nobody else.
 */
export class NoticeHandlers {
  private readonly handlers = new Set<(notice: ChangeNotice) => void>();

  constructor(private readonly onError: (error: unknown) => void) {}

  /** A wrapper per call, so subscribing the same function twice gives two independent subscriptions. */
  add(handler: (notice: ChangeNotice) => void): () => Promise<void> {
    const entry = (notice: ChangeNotice) => handler(notice);
    this.handlers.add(entry);
    return async () => void this.handlers.delete(entry);
  }

  clear(): void {
    this.handlers.clear();
  }

  /** Never throws: it runs inside ioredis' reply parsing or an event emitter. */
  dispatch(text: string): void {
    let notice: ChangeNotice;
    try {
      notice = JSON.parse(text) as ChangeNotice;
    } catch (error) {
      this.onError(error);
      return;
    }
    for (const handler of [...this.handlers]) {
      try {
        handler(notice);
      } catch (error) {
        this.onError(error);
      }
    }
  }
}
