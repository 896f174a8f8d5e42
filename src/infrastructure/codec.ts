import type { StoredEvent } from '../ports.js';

// Events travel as JSON; the 64-bit position travels as a decimal string so no precision is lost.
interface WireEvent extends Omit<StoredEvent, 'position' | 'committedAt'> {
  position: string;
  committedAt: string;
}

export function encodeEvent(event: StoredEvent): string {
  const wire: WireEvent = { ...event, position: event.position.toString(), committedAt: event.committedAt.toISOString() };
  return JSON.stringify(wire);
}

export function decodeEvent(text: string): StoredEvent {
  const wire = JSON.parse(text) as WireEvent;
  return { ...wire, position: BigInt(wire.position), committedAt: new Date(wire.committedAt) };
}
