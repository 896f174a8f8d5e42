import { EventEmitter } from 'node:events';
import type { ChangeFeed, ChangeNotice } from '../../ports.js';
import { NoticeHandlers } from '../noticeHandlers.js';

export interface MemoryChangeFeedOptions {
  /** Feeds on the same bus see each other's notices, as processes on one Redis do. Default: a private bus. */
  bus?: EventEmitter;
  /** Told about a handler that threw; it does not stop delivery to others. */
  onError?: (error: unknown) => void;
}

/** The embedded twin of `RedisChangeFeed`. */
export class MemoryChangeFeed implements ChangeFeed {
  private readonly bus: EventEmitter;
  private readonly handlers: NoticeHandlers;
  private readonly listener = (text: string) => {
    // Later, never inside publish(), as with Redis: a subscriber's work or failure is not the publisher's.
    queueMicrotask(() => this.handlers.dispatch(text));
  };
  private listening = false;

  constructor({ bus = new EventEmitter(), onError = (error) => console.error('change feed:', error) }: MemoryChangeFeedOptions = {}) {
    this.bus = bus;
    this.handlers = new NoticeHandlers(onError);
  }

  async publish(notice: ChangeNotice): Promise<void> {
    this.bus.emit('notice', JSON.stringify(notice));
  }

  async subscribe(handler: (notice: ChangeNotice) => void): Promise<() => Promise<void>> {
    if (!this.listening) {
      this.bus.on('notice', this.listener);
      this.listening = true;
    }
    return this.handlers.add(handler);
  }

  async close(): Promise<void> {
    this.handlers.clear();
    this.bus.off('notice', this.listener);
    this.listening = false;
  }
}
