// Where the real services live for integration and end-to-end tests. With CI=true a missing service
// fails the run; locally it fails too, with the command that starts it, because a skipped integration
// test proves nothing.
export const urls = {
  postgres: process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
  nats: process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222',
  redis: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
};

/** A name no other test run uses, for databases, streams, consumers and key prefixes. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}
