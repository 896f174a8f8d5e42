import { Redis } from 'ioredis';
import type { ChangeFeed, ChangeNotice } from '../../ports.js';

export interface RedisChangeFeedOptions {
  url: string;
  /** Namespace of the channel (`<prefix>:changes`), shared with the read store's keys. */
  prefix?: string;
  /** Told about a handler that threw or a message that is not JSON; neither stops delivery to others. */
  onError?: (error: unknown) => void;
}

/**
 * Redis pub/sub: fire and forget, so a notice published while a process is disconnected never reaches it.
 * Subscribers needing every version read the document itself, which the notice only points to.
 */
export class RedisChangeFeed implements ChangeFeed {
  private readonly url: string;
  private readonly channel: string;
  private readonly onError: (error: unknown) => void;
  private readonly publisher: Redis;
  private readonly handlers = new Set<(notice: ChangeNotice) => void>();
  private subscriber: Promise<Redis> | undefined;

  constructor({ url, prefix = 'cqrs', onError = (error) => console.error('change feed:', error) }: RedisChangeFeedOptions) {
    this.url = url;
    this.channel = `${prefix}:changes`;
    this.onError = onError;
    this.publisher = connect(url, { lazyConnect: true });
  }

  async publish(notice: ChangeNotice): Promise<void> {
    await this.publisher.publish(this.channel, JSON.stringify(notice));
  }

  async subscribe(handler: (notice: ChangeNotice) => void): Promise<() => Promise<void>> {
    await (this.subscriber ??= this.connectSubscriber());
    // A wrapper per call, so subscribing the same function twice gives two independent subscriptions.
    const entry = (notice: ChangeNotice) => handler(notice);
    this.handlers.add(entry);
    return async () => {
      this.handlers.delete(entry);
    };
  }

  async close(): Promise<void> {
    this.handlers.clear();
    const subscriber = await this.subscriber?.catch(() => undefined);
    await Promise.all([this.publisher.quit(), subscriber?.quit()]);
  }

  // A subscribed connection can run nothing else, so all local handlers share this one.
  private async connectSubscriber(): Promise<Redis> {
    const subscriber = connect(this.url);
    subscriber.on('message', (channel, text) => {
      if (channel === this.channel) this.dispatch(text);
    });
    try {
      await subscriber.subscribe(this.channel);
      return subscriber;
    } catch (error) {
      subscriber.disconnect();
      this.subscriber = undefined;
      throw error;
    }
  }

  // Runs inside ioredis' reply parsing: nothing may throw out of here.
  private dispatch(text: string): void {
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

function connect(url: string, options: { lazyConnect?: boolean } = {}): Redis {
  // One retry per command, as in RedisReadStore: fail fast while Redis is down rather than after ~70 s.
  const redis = new Redis(url, { ...options, maxRetriesPerRequest: 1 });
  // Commands reject by themselves, and ioredis resubscribes after a reconnect.
  redis.on('error', () => {});
  return redis;
}
