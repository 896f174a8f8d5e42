import { MemoryReadStore } from '../../src/infrastructure/embedded/memoryReadStore.js';
import { readStoreContract } from '../contracts/readStore.contract.js';

readStoreContract('in-memory', async () => ({ store: new MemoryReadStore(), cleanup: async () => {} }));
