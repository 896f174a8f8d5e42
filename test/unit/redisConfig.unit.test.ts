import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { slotGroupOf } from '../../src/infrastructure/readStoreLayout.js';
import { shardChannelOf, shardChannels, SHARD_CHANNELS } from '../../src/infrastructure/redis/connection.js';
import { keySlot } from '../clusters.js';

describe('when REDIS_CLUSTER_URLS names the seed nodes', () => {
  it('reads the read side from the cluster, one URL per node', () => {
    const config = loadConfig({ REDIS_CLUSTER_URLS: 'redis://a:7000, redis://b:7001,' });
    expect(config.redis).toEqual(['redis://a:7000', 'redis://b:7001']);
  });

  it('refuses REDIS_URL beside it, and a prefix with braces', () => {
    expect(() => loadConfig({ REDIS_URL: 'redis://a:6379', REDIS_CLUSTER_URLS: 'redis://b:7000' })).toThrow(/not both/);
    expect(() => loadConfig({ REDIS_CLUSTER_URLS: 'redis://b:7000', REDIS_PREFIX: 'a{b}' })).toThrow(ConfigError);
    expect(() => loadConfig({ REDIS_CLUSTER_URLS: 'http://b:7000' })).toThrow(ConfigError);
  });

  it('keeps one server with REDIS_URL, and the embedded store with neither', () => {
    expect(loadConfig({ REDIS_URL: 'redis://a:6379' }).redis).toBe('redis://a:6379');
    expect(loadConfig({}).redis).toBeUndefined();
  });
});

describe('when READ_CACHE_ENTRIES sizes the near cache', () => {
  it('keeps none unless told, as many as told, and refuses a negative size', () => {
    expect(loadConfig({}).READ_CACHE_ENTRIES).toBe(0);
    expect(loadConfig({ READ_CACHE_ENTRIES: '10000' }).READ_CACHE_ENTRIES).toBe(10_000);
    expect(() => loadConfig({ READ_CACHE_ENTRIES: '-1' })).toThrow(ConfigError);
  });
});

describe('given the slot groups of indexes', () => {
  it('keeps an owner\'s indexes together and everything else with the collection', () => {
    expect(slotGroupOf('userOrder:user:alice')).toBe('userOrder:user:alice');
    expect(slotGroupOf('userOrder:user:alice:status:PAID')).toBe('userOrder:user:alice');
    expect(slotGroupOf('userOrder:status:PAID')).toBe('userOrder');
    expect(slotGroupOf('userOrder:all')).toBe('userOrder');
  });
});

describe('given the sharded notice channels', () => {
  it('sends every notice of one order on one channel, and spreads orders over the shards', () => {
    // A fixed answer, not a second call: every process, of this version or the next, must pick the same one.
    expect(shardChannelOf('p:changes', 'order-1')).toBe('p:changes:{p:changes:2}');
    const used = new Set(Array.from({ length: 500 }, (_, i) => shardChannelOf('p:changes', `order-${i}`)));
    expect(used).toEqual(new Set(shardChannels('p:changes')));
    expect(new Set(shardChannels('p:changes').map(keySlot)).size).toBe(SHARD_CHANNELS);
  });
});
