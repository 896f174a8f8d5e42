// The few statements on every event's path (append, load, relay) run here, on pg's pool for a server
// and on PGlite itself when embedded, instead of through Prisma's $queryRaw. Measured on this machine
// (bench/micro/sqlPath.ts, 3,000 sequential statements after warm-up, on a busy machine): a one-row
// $queryRaw cost 545 µs of CPU where pg took 181 (129 prepared), and an interactive $transaction of three
// statements 3.8 ms of wall time and 1.9 ms of CPU where BEGIN, three, COMMIT on one pg connection took
// 0.76 and 0.34: five times, on every relay batch between commit and subscriber. Prisma keeps the
// schema, the migrations and every other query.
import type { PGlite, Transaction } from '@electric-sql/pglite';
import pg from 'pg';

export interface SqlClient {
  /** `name` prepares the statement once per connection (pg); PGlite ignores it. */
  query<R>(text: string, values?: unknown[], name?: string): Promise<R[]>;
}

export interface Sql extends SqlClient {
  /** Runs `work` in one transaction on one connection; commits when it resolves, rolls back when it throws. */
  transaction<T>(work: (tx: SqlClient) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export function poolSql(pool: pg.Pool): Sql {
  const run = async <R>(client: pg.Pool | pg.PoolClient, text: string, values?: unknown[], name?: string) =>
    (await client.query<R & pg.QueryResultRow>(name ? { name, text, values } : { text, values })).rows as R[];
  return {
    query: (text, values, name) => run(pool, text, values, name),
    async transaction(work) {
      const client = await pool.connect();
      // A checked-out client has no listener of the pool's: a connection lost mid-transaction would be
      // an uncaught 'error' event and end the process. The statement in flight fails by itself.
      let broken: unknown;
      const onError = (error: Error) => void (broken = error);
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        const result = await work({ query: (text, values, name) => run(client, text, values, name) });
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: unknown) => (broken = rollbackError));
        throw error;
      } finally {
        client.removeListener('error', onError);
        // A connection that broke, or could not even roll back, is not given to the next caller.
        client.release(broken instanceof Error ? broken : undefined);
      }
    },
    close: () => pool.end(),
  };
}

export function pgliteSql(pglite: PGlite): Sql {
  const run = async <R>(client: PGlite | Transaction, text: string, values?: unknown[]) => (await client.query<R>(text, values)).rows;
  return {
    query: (text, values) => run(pglite, text, values),
    transaction: (work) => pglite.transaction((tx) => work({ query: (text, values) => run(tx, text, values) })),
    close: async () => {}, // the PGlite's lifetime is its owner's
  };
}

/** A unique violation of `constraint` (Postgres and PGlite both report it by name, SQLSTATE 23505). */
export function violates(error: unknown, constraint: string): boolean {
  const { code, constraint: name } = (error ?? {}) as { code?: string; constraint?: string };
  return code === '23505' && name === constraint;
}
