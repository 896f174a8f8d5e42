import type { StoredEvent } from '../ports.js';

// Events travel as JSON; the 64-bit position travels as a decimal string so no precision is lost. The
// time keeps its first wire name, `committedAt`: messages are read by relays and projectors of other
// releases (a rolling deploy, a stream replayed), which know it by that name.
interface WireEvent extends Omit<StoredEvent, 'position' | 'recordedAt'> {
  position: string;
  committedAt: string;
}

export function encodeEvent(event: StoredEvent): string {
  // Named fields, not a spread: a spread plus new fields is V8's slow path on Node 20 (see toProjected),
  // and this runs for every event the relay publishes. The order is the one the wire always had.
  const { streamId, version, type, schemaVersion, data, metadata } = event;
  const wire: WireEvent = { position: event.position.toString(), streamId, version, type, schemaVersion, data, metadata, committedAt: event.recordedAt.toISOString() };
  return JSON.stringify(wire);
}

/** A message on the bus that is not an event our relay could have published: why, in words. */
export class MalformedMessageError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'MalformedMessageError';
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const positiveInt = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 1;
const text = (value: unknown): value is string => typeof value === 'string' && value.length > 0 && value.length <= 200;

/**
 * Parses a message and checks the envelope our relay writes (ids, version, position, time, metadata):
 * anyone may publish on the subject, and a message that is not JSON, or lacks these, must be refused
 * here, before it reaches a projection. Whether its type is one the domain knows is the projector's call.
 */
export function decodeEvent(text_: string): StoredEvent {
  let wire: unknown;
  try {
    wire = JSON.parse(text_);
  } catch {
    throw new MalformedMessageError('not JSON');
  }
  if (!isObject(wire)) throw new MalformedMessageError('not a JSON object');
  const problems: string[] = [];
  if (!text(wire.streamId)) problems.push('streamId');
  if (!positiveInt(wire.version)) problems.push('version');
  if (!text(wire.type)) problems.push('type');
  if (!positiveInt(wire.schemaVersion)) problems.push('schemaVersion');
  if (typeof wire.position !== 'string' || !/^[1-9]\d{0,18}$/.test(wire.position)) problems.push('position');
  if (typeof wire.committedAt !== 'string' || Number.isNaN(Date.parse(wire.committedAt))) problems.push('committedAt');
  const metadata = wire.metadata;
  if (!isObject(metadata) || !['eventId', 'commandId', 'correlationId', 'causationId', 'userId'].every((key) => text(metadata[key]))) problems.push('metadata');
  if (!('data' in wire)) problems.push('data');
  if (problems.length) throw new MalformedMessageError(`not an event envelope: missing or invalid ${problems.join(', ')}`);
  // Named fields (a spread plus a new field is V8's slow path on Node 20), which also leaves out
  // anything else a publisher put in the envelope.
  const event = wire as unknown as WireEvent;
  return { position: BigInt(event.position), streamId: event.streamId, version: event.version, type: event.type, schemaVersion: event.schemaVersion, data: event.data, metadata: event.metadata, recordedAt: new Date(event.committedAt) };
}
