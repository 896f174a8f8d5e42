import { ServiceUnavailableError } from '../domain/errors.js';

// A dependency that does not answer is not a bug of ours: the client gets SERVICE_UNAVAILABLE with a
// Retry-After, not INTERNAL_SERVER_ERROR. Drivers say "down" in many ways (node socket codes, Postgres
// SQLSTATEs, Prisma's P1xxx codes and driver-adapter kinds, ioredis messages); they are recognised here,
// once, at the adapters' edge.

export type Server = 'postgres' | 'redis';

const socketCodes = /^(ECONNREFUSED|ECONNRESET|ECONNABORTED|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN)$/;
// 08xxx connection exceptions, 57P01-03 shutdown/crash/starting, 53300 too many connections; Prisma's
// P1001 unreachable, P1002 timed out, P1008 operation timed out, P1017 server closed the connection, P2024 pool timeout.
const databaseCodes = /^(08\d{3}|57P0[1-3]|53300|P1001|P1002|P1008|P1017|P2024)$/;
const adapterKinds = /^(DatabaseNotReachable|ConnectionClosed|SocketTimeout|TooManyConnections|DatabaseDoesNotExist)$/;
const messages: Record<Server, RegExp> = {
  postgres:
    /Connection terminated|timeout exceeded when trying to connect|Can't reach database server|the database system is (shutting down|starting up|in recovery mode)|terminating connection due to administrator command|Client has encountered a connection error|Connection closed|server closed the connection/i,
  // The last line: a Redis Cluster without a master for a slot (a failover under way) or without any node.
  redis:
    /Command timed out|Stream isn't writeable|Connection is closed|max retries per request|ECONNREFUSED|ECONNRESET|LOADING Redis is loading|CLUSTERDOWN|TRYAGAIN|Failed to refresh slots cache|None of startup nodes is available|Cluster isn't ready/i,
};

/** Whether `error` (or what caused it) says the server did not answer, rather than refused the request. */
export function isOutage(error: unknown, server: Server): boolean {
  const seen = new Set<unknown>();
  const visit = (value: unknown, depth: number): boolean => {
    if (value === null || typeof value !== 'object' || seen.has(value) || depth > 5) return false;
    seen.add(value);
    const e = value as { name?: unknown; code?: unknown; kind?: unknown; message?: unknown; cause?: unknown; meta?: unknown; originalCode?: unknown };
    const code = typeof e.code === 'string' ? e.code : undefined;
    if (code && socketCodes.test(code)) return true;
    if (server === 'postgres' && ((code && databaseCodes.test(code)) || (typeof e.originalCode === 'string' && databaseCodes.test(e.originalCode)))) return true;
    if (server === 'postgres' && typeof e.kind === 'string' && adapterKinds.test(e.kind)) return true;
    if (server === 'postgres' && e.name === 'PrismaClientInitializationError') return true;
    if (server === 'redis' && (e.name === 'MaxRetriesPerRequestError' || e.name === 'ClusterAllFailedError')) return true;
    if (typeof e.message === 'string' && messages[server].test(e.message)) return true;
    if (Array.isArray((value as AggregateError).errors) && (value as AggregateError).errors.some((inner) => visit(inner, depth + 1))) return true;
    return visit(e.cause, depth + 1) || visit(e.meta, depth + 1) || visit((e.meta as { driverAdapterError?: unknown } | undefined)?.driverAdapterError, depth + 1);
  };
  return visit(error, 0);
}

export function unavailable(server: Server, cause?: unknown): ServiceUnavailableError {
  const error = new ServiceUnavailableError(`${server} does not answer; try again shortly`, { server, retryAfterSeconds: 1 });
  if (cause !== undefined) Object.defineProperty(error, 'cause', { value: cause, enumerable: false });
  return error;
}

/**
 * The port with every method's outage errors turned into ServiceUnavailableError, for the request
 * paths (commands on the event store, queries on the read store). The adapters' own timeouts bound the
 * wait; this only names what happened.
 */
export function guarded<T extends object>(port: T, server: Server): T {
  return new Proxy(port, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const map = (error: unknown) => {
          throw isOutage(error, server) ? unavailable(server, error) : error;
        };
        try {
          const result = value.apply(target, args);
          return result instanceof Promise ? result.catch(map) : result;
        } catch (error) {
          return map(error);
        }
      };
    },
  });
}
