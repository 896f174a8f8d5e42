import { describe, expect, it, vi } from 'vitest';
import { RedisChangeFeed } from '../../src/infrastructure/redis/redisChangeFeed.js';
import { changeFeedContract, changeNotice, recorder } from '../contracts/changeFeed.contract.js';
import { uniqueName, urls } from '../services.js';

// Pub/sub writes no keys, so a unique channel prefix is all the isolation this file needs.
const prefix = uniqueName('changefeed');

function feed(feedPrefix = prefix): RedisChangeFeed {
  // The contract makes a handler throw on purpose.
  return new RedisChangeFeed({ url: urls.redis, prefix: feedPrefix, onError: () => {} });
}

changeFeedContract('Redis', async () => {
  const feeds: [RedisChangeFeed, RedisChangeFeed] = [feed(), feed()];
  return { feeds, cleanup: async () => void (await Promise.all(feeds.map((f) => f.close()))) };
});

describe('Redis change feed', () => {
  describe('when two feeds use different prefixes', () => {
    it('keeps their notices apart', async () => {
      const [ours, theirs, publisher] = [feed(), feed(uniqueName('changefeed')), feed()];
      try {
        const mine = recorder();
        const other = recorder();
        await ours.subscribe(mine.handler);
        await theirs.subscribe(other.handler);
        await publisher.publish(changeNotice(1));
        await vi.waitFor(() => expect(mine.received).toHaveLength(1));
        // Same server, so a leak across prefixes would have arrived by the time ours did.
        await theirs.publish(changeNotice(2));
        await vi.waitFor(() => expect(other.received.map((n) => n.version)).toEqual([2]));
        expect(mine.received.map((n) => n.version)).toEqual([1]);
      } finally {
        await Promise.all([ours, theirs, publisher].map((f) => f.close()));
      }
    });
  });
});
