import { defineConfig } from 'vitest/config';

// unit: pure code. int: adapters against the real Postgres, NATS and Redis (and the embedded twins).
// e2e: a started server and real clients. int and e2e share servers, so their files run one at a time.
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/**/*.unit.test.ts'] } },
      {
        test: {
          name: 'int',
          include: ['test/**/*.int.test.ts'],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/**/*.e2e.test.ts'],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 90_000,
        },
      },
    ],
  },
});
