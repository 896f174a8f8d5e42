import type { ChangeFeed, ChangeNotice } from '../../ports.js';
import { NoticeHandlers } from '../noticeHandlers.js';
import { connectRedis, publishNotice, type RedisClient, type RedisTarget, subscribeNotices } from './connection.js';

export interface RedisChangeFeedOptions {
  /** One server's URL, or the seed nodes of a Redis Cluster. */
  url: RedisTarget;
  /** Namespace of the channel (`<prefix>:changes`), shared with the read store's keys. */
  prefix?: string;
  /** Told about a handler that threw or a message that is not JSON; neither stops delivery to others. */
  onError?: (error: unknown) => void;
}

/**
 * Redis pub/sub (sharded pub/sub over several channels on a cluster, see connection.ts): fire and forget, so a notice published while a process is disconnected never reaches it.
 * Subscribers needing every version read the document itself, which the notice only points to.
 */
export class RedisChangeFeed implements ChangeFeed {
  private readonly url: RedisTarget;
  private readonly channel: string;
  private readonly publisher: RedisClient;
  private readonly handlers: NoticeHandlers;
  private subscriber: Promise<RedisClient> | undefined;

  constructor({ url, prefix = 'cqrs', onError = (error) => console.error('change feed:', error) }: RedisChangeFeedOptions) {
    this.url = url;
    this.channel = `${prefix}:changes`;
    this.handlers = new NoticeHandlers(onError);
    this.publisher = connect(url, { lazyConnect: true });
  }

  async publish(notice: ChangeNotice): Promise<void> {
    await publishNotice(this.publisher, this.channel, notice.id, JSON.stringify(notice));
  }

  async subscribe(handler: (notice: ChangeNotice) => void): Promise<() => Promise<void>> {
    await (this.subscriber ??= this.connectSubscriber());
    return this.handlers.add(handler);
  }

  async close(): Promise<void> {
    this.handlers.clear();
    const subscriber = await this.subscriber?.catch(() => undefined);
    await Promise.all([this.publisher.quit(), subscriber?.quit()]);
  }

  // A subscribed connection can run nothing else, so all local handlers share this one.
  private async connectSubscriber(): Promise<RedisClient> {
    const subscriber = connect(this.url);
    try {
      await subscribeNotices(subscriber, this.channel, (text) => this.handlers.dispatch(text));
      return subscriber;
    } catch (error) {
      subscriber.disconnect();
      this.subscriber = undefined;
      throw error;
    }
  }
}

function connect(url: RedisTarget, options: { lazyConnect?: boolean } = {}): RedisClient {
  // One retry per command, as in RedisReadStore: fail fast while Redis is down rather than after ~70 s.
  const redis = connectRedis(url, { ...options, maxRetriesPerRequest: 1 });
  // Commands reject by themselves, and ioredis resubscribes after a reconnect.
  redis.on('error', () => {});
  return redis;
}
