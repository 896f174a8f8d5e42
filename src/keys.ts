/**
 * A value chosen outside this service (a user id from a token's `sub`, a client address) as one segment
 * of a storage key. Letters, digits and `_ . @ -` stay as they are, so keys stay readable; every other
 * UTF-16 unit becomes `%` and four hex digits. Fixed width makes it injective, and the result holds no
 * `:` (our separator), `{ }` (Redis Cluster hash tags), `* ? [ ]` (patterns) or spaces: one user's
 * segment can never spell another user's key, whatever characters the issuer allows in `sub`.
 */
export function keyPart(value: string): string {
  return value.replace(/[^A-Za-z0-9_.@-]/g, (unit) => `%${unit.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`);
}

/** Whom a limit counts (rate, connections, subscriptions): the user, or the address of an anonymous caller. */
export function callerKey(userId: string | null | undefined, address?: string | undefined): string {
  return userId != null ? `user:${keyPart(userId)}` : `ip:${keyPart(address ?? 'unknown')}`;
}
