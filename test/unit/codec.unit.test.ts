import { describe, expect, it } from 'vitest';
import { decodeEvent, encodeEvent } from '../../src/infrastructure/codec.js';
import type { StoredEvent } from '../../src/ports.js';

const event: StoredEvent = {
  position: 9_007_199_254_740_993n, // past Number.MAX_SAFE_INTEGER
  streamId: 'order-1',
  version: 3,
  type: 'OrderPaid',
  schemaVersion: 1,
  data: { paymentReference: 'pay-1' },
  metadata: { eventId: 'e-1', commandId: 'c-1', correlationId: 'r-1', causationId: 'c-1', userId: 'alice' },
  recordedAt: new Date('2026-11-30T10:00:00.123Z'),
};

describe('when an event travels on the bus', () => {
  it('keeps the time under its first wire name, committedAt, which relays and projectors of earlier releases read', () => {
    const wire = JSON.parse(encodeEvent(event));
    expect(wire.committedAt).toBe('2026-11-30T10:00:00.123Z');
    expect(wire).not.toHaveProperty('recordedAt');
    expect(wire.position).toBe('9007199254740993');
  });

  it('comes back as the event it was, recordedAt a Date again', () => {
    expect(decodeEvent(encodeEvent(event))).toEqual(event);
  });

  it('carries the envelope only: a field the relay does not write, on the wire or on the event, goes no further', () => {
    const wire = JSON.parse(encodeEvent({ ...event, extra: 'x' } as StoredEvent));
    expect(Object.keys(wire).sort()).toEqual(['committedAt', 'data', 'metadata', 'position', 'schemaVersion', 'streamId', 'type', 'version']);
    expect(decodeEvent(JSON.stringify({ ...wire, injected: { a: 1 } }))).toEqual(event);
  });
});
