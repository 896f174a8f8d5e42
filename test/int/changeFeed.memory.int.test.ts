import { EventEmitter } from 'node:events';
import { MemoryChangeFeed } from '../../src/infrastructure/embedded/memoryChangeFeed.js';
import { changeFeedContract } from '../contracts/changeFeed.contract.js';

changeFeedContract('in-memory', async () => {
  const bus = new EventEmitter();
  // The contract makes a handler throw on purpose.
  const feeds: [MemoryChangeFeed, MemoryChangeFeed] = [
    new MemoryChangeFeed({ bus, onError: () => {} }),
    new MemoryChangeFeed({ bus, onError: () => {} }),
  ];
  return { feeds, cleanup: async () => void (await Promise.all(feeds.map((feed) => feed.close()))) };
});
