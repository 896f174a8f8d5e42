/**
 * Close codes a graphql-ws client may see from this server (docs/security.md). graphql-ws itself
 * closes with 4400 (unparsable message), 4401 (subscribe before connection_ack), 4406 (subprotocol),
 * 4408 (no connection_init in time), 4409 (a subscription id reused) and 4429 (a second
 * connection_init); `ws` closes with 1009 when a message is larger than MAX_BODY_BYTES.
 */
export const closeCodes = {
  /** connection_init carried a token that is invalid or expired (graphql-ws' Forbidden). */
  invalidToken: 4403,
  /** The caller already holds WS_MAX_CONNECTIONS_PER_USER connections to this instance. */
  tooManyConnections: 4429,
} as const;

/** Open connections per caller on this instance; a caller is a user id, or an IP address when anonymous. */
export class ConnectionCounter {
  private readonly open = new Map<string, number>();

  constructor(private readonly maxPerCaller: number) {}

  /** Counts a connection for `key` unless the caller is at the cap. */
  tryOpen(key: string): boolean {
    const count = this.open.get(key) ?? 0;
    if (count >= this.maxPerCaller) return false;
    this.open.set(key, count + 1);
    return true;
  }

  release(key: string): void {
    const count = (this.open.get(key) ?? 0) - 1;
    if (count > 0) this.open.set(key, count);
    else this.open.delete(key);
  }
}
