import { defineConfig } from 'vitest/config';

// unit: pure code. int: adapters against the real Postgres, NATS and Redis (and the embedded twins).
// e2e: a started server and real clients. int and e2e share servers, so their files run one at a time.
export default defineConfig({
  test: {
    // The second repeats unhandled errors in short at the end, where a truncated CI log still shows them.
    reporters: ['default', './test/reporters/unhandledLast.ts'],
    // graphql 16 ships CJS (main) and ESM (module) builds. Vite resolves our imports to the ESM one while
    // Node loads the CJS one for external packages; inlining Pothos makes both sides use one copy.
    server: { deps: { inline: [/@pothos\//, /graphql-yoga/, /@graphql-yoga\//, /@envelop\//, /@graphql-tools\//] } },
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/**/*.unit.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'int',
          include: ['test/**/*.int.test.ts'],
          globalSetup: ['test/buildOnce.ts'],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/**/*.e2e.test.ts'],
          globalSetup: ['test/buildOnce.ts'],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 90_000,
        },
      },
    ],
  },
});
