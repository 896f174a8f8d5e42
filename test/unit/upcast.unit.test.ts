import { describe, expect, it } from 'vitest';
import { currentSchemaVersion, type OrderEventType, upcast } from '../../src/domain/order/index.js';
import { item, ORDER_ID } from './given.js';

describe('given a v1 OrderCreated, written before orders had a currency', () => {
  const v1 = () => ({ orderId: ORDER_ID, userId: 'alice', items: [item()] });

  describe('when it is upcast', () => {
    it('becomes a current OrderCreated in USD, with every other field kept', () => {
      expect(upcast('OrderCreated', 1, v1())).toEqual({
        type: 'OrderCreated',
        data: { orderId: ORDER_ID, userId: 'alice', currency: 'USD', items: [item()] },
      });
    });

    it('leaves the stored data untouched', () => {
      const stored = Object.freeze(v1());
      upcast('OrderCreated', 1, stored);
      expect(stored).toEqual(v1());
      expect(stored).not.toHaveProperty('currency');
    });
  });
});

describe('given events at their current schema version', () => {
  const current: [OrderEventType, unknown][] = [
    ['OrderCreated', { orderId: ORDER_ID, userId: 'alice', currency: 'EUR', items: [item()] }],
    ['OrderItemAdded', { item: item({ sku: 'B' }) }],
    ['OrderItemRemoved', { sku: 'B' }],
    ['OrderConfirmed', {}],
    ['OrderPaid', { paymentReference: 'pay-1' }],
    ['OrderShipped', { trackingNumber: 'T-1' }],
    ['OrderDelivered', {}],
    ['OrderCancelled', { reason: 'no' }],
  ];

  it('covers every event type', () => {
    expect(current.map(([type]) => type).sort()).toEqual(Object.keys(currentSchemaVersion).sort());
  });

  describe.each(current)('when %s is upcast', (type, data) => {
    it('passes through unchanged', () => {
      const copy = structuredClone(data);
      expect(upcast(type, currentSchemaVersion[type], data)).toEqual({ type, data: copy });
    });
  });

  describe('when a current OrderCreated in EUR is upcast', () => {
    it('keeps EUR (the v1 step does not run again)', () => {
      expect(upcast('OrderCreated', 2, { orderId: ORDER_ID, userId: 'alice', currency: 'EUR', items: [] }).data).toMatchObject({ currency: 'EUR' });
    });
  });
});

describe('given an event type the domain does not know', () => {
  it.each(['OrderRefunded', 'orderCreated', '', 'toString', 'constructor', '__proto__'])('when %j is upcast, it throws', (type) => {
    expect(() => upcast(type, 1, {})).toThrow(`unknown event type ${type}`);
  });
});

describe('given a schema version with no upcaster step', () => {
  describe('when an OrderCreated v0 is upcast', () => {
    it('throws, naming the missing step', () => {
      expect(() => upcast('OrderCreated', 0, { orderId: ORDER_ID })).toThrow('no upcaster for OrderCreated v0');
    });
  });

  describe('when an OrderPaid v0 is upcast (a type that never had a step)', () => {
    it('throws, naming the missing step', () => {
      expect(() => upcast('OrderPaid', 0, { paymentReference: 'x' })).toThrow('no upcaster for OrderPaid v0');
    });
  });
});

describe('given an event written by newer code', () => {
  describe('when an OrderCreated v3 is upcast by code that knows v2', () => {
    it('throws rather than passing an unknown shape on', () => {
      expect(() => upcast('OrderCreated', 3, { orderId: ORDER_ID })).toThrow('OrderCreated v3 is newer than this code knows');
    });
  });
});
