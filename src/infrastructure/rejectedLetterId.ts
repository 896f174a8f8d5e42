import { createHash } from 'node:crypto';

/**
 * A rejected message has no trustworthy event id: its letter is keyed by a UUID derived from where it
 * sat on the bus, so its redeliveries land on one letter in either dead-letter store.
 */
export function rejectedLetterId(consumer: string, messageKey: string): string {
  const hex = createHash('sha256').update(`${consumer}\0${messageKey}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
