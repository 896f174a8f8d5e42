import { describe, expect, it } from 'vitest';
import type { ReadStore } from '../../src/ports.js';
import { documentStoreContract } from './documentStore.contract.js';
import { indexReaderContract } from './indexReader.contract.js';
import { readCoordinationContract } from './readCoordination.contract.js';

export { orderDoc } from './readDocs.js';

/** Stores must be on a prefix of their own: the namespace tests switch and drop whole collections. */
export interface ReadStoreUnderTest {
  store: ReadStore;
  cleanup(): Promise<void>;
}

/** A read store adapter implements the three read-store ports: it must pass each port's suite. */
export function readStoreContract(name: string, make: () => Promise<ReadStoreUnderTest>): void {
  documentStoreContract(name, make);
  indexReaderContract(name, make);
  readCoordinationContract(name, make);

  describe(`${name} read store`, () => {
    describe('when the store is reachable', () => {
      it('answers a ping', async () => {
        const { store, cleanup } = await make();
        try {
          await expect(store.ping()).resolves.toBeUndefined();
        } finally {
          await cleanup();
        }
      });
    });
  });
}
