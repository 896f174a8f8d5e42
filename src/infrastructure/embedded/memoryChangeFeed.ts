import { EventEmitter } from 'node:events';
import type { ChangeFeed, ChangeNotice } from '../../ports.js';

export interface MemoryChangeFeedOptions {
  /** Feeds on the same bus see each other's notices, as processes on one Redis do. Default: a private bus. */
  bus?: EventEmitter;
  /** Told about a handler that threw; it does not stop delivery to others. */
  onError?: (error: unknown) => void;
}

/** The embedded twin of `RedisChangeFeed`. */
export class MemoryChangeFeed implements ChangeFeed {
  private readonly bus: EventEmitter;
  private readonly onError: (error: unknown) => void;
  private readonly handlers = new Set<(notice: ChangeNotice) => void>();
  private readonly listener = (text: string) => {
    // Later, never inside publish(), as with Redis: a subscriber's work or failure is not the publisher's.
    queueMicrotask(() => this.dispatch(text));
  };
  private listening = false;

  constructor({ bus = new EventEmitter(), onError = (error) => console.error('change feed:', error) }: MemoryChangeFeedOptions = {}) {
    this.bus = bus;
    this.onError = onError;
  }

  async publish(notice: ChangeNotice): Promise<void> {
    this.bus.emit('notice', JSON.stringify(notice));
  }

  async subscribe(handler: (notice: ChangeNotice) => void): Promise<() => Promise<void>> {
    if (!this.listening) {
      this.bus.on('notice', this.listener);
      this.listening = true;
    }
    const entry = (notice: ChangeNotice) => handler(notice);
    this.handlers.add(entry);
    return async () => {
      this.handlers.delete(entry);
    };
  }

  async close(): Promise<void> {
    this.handlers.clear();
    this.bus.off('notice', this.listener);
    this.listening = false;
  }

  private dispatch(text: string): void {
    // Parsed per feed, so processes never share a notice object, as over Redis.
    const notice = JSON.parse(text) as ChangeNotice;
    for (const handler of [...this.handlers]) {
      try {
        handler(notice);
      } catch (error) {
        this.onError(error);
      }
    }
  }
}
