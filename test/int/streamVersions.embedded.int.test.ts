import { scanStreamVersions } from '../../src/infrastructure/embedded/scanStreamVersions.js';
import { createEventStore } from '../../src/infrastructure/postgres/eventStore.js';
import { streamVersionsContract } from '../contracts/streamVersions.contract.js';
import { pglitePerFile, truncateEventStore } from '../db.js';

const embedded = pglitePerFile();

// The embedded service scans its PGlite log (service.ts): the twin runs over the same store it does there.
streamVersionsContract('embedded (log scan)', async () => {
  const store = createEventStore({ pglite: embedded.pglite });
  return {
    store,
    versions: scanStreamVersions(store),
    cleanup: async () => {
      await store.close();
      await embedded.pglite.exec(truncateEventStore);
    },
  };
});
