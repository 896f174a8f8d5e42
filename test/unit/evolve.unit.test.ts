import { describe, expect, it } from 'vitest';
import { evolve, fold, type OrderEvent, type OrderState } from '../../src/domain/order/index.js';
import { cancelled, confirmed, created, delivered, item, ORDER_ID, paid, shipped } from './given.js';

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

const widget = item({ sku: 'W', name: 'Widget', quantity: 2, unitPriceCents: 500 });
const gadget = item({ sku: 'G', name: 'Gadget', quantity: 1, unitPriceCents: 1200 });

const wholeLifecycle: OrderEvent[] = [
  created([widget], 'alice', 'EUR'),
  { type: 'OrderItemAdded', data: { item: gadget } },
  { type: 'OrderItemAdded', data: { item: item({ sku: 'W', name: 'Renamed', quantity: 3, unitPriceCents: 1 }) } },
  { type: 'OrderItemAdded', data: { item: item({ sku: 'X', name: 'Extra' }) } },
  { type: 'OrderItemRemoved', data: { sku: 'X' } },
  confirmed,
  paid,
  shipped,
  delivered,
];

describe('given the events of a whole lifecycle', () => {
  describe('when they are folded', () => {
    it('gives the delivered order with merged lines, kept first name and price, and the removed line gone', () => {
      expect(fold(wholeLifecycle)).toEqual<OrderState>({
        id: ORDER_ID,
        userId: 'alice',
        status: 'DELIVERED',
        currency: 'EUR',
        items: [
          { sku: 'W', name: 'Widget', quantity: 5, unitPriceCents: 500 },
          { sku: 'G', name: 'Gadget', quantity: 1, unitPriceCents: 1200 },
        ],
      });
    });

    it('passes through each status in order', () => {
      const statuses: string[] = [];
      let state: OrderState | null = null;
      for (const event of wholeLifecycle) {
        state = evolve(state, event);
        statuses.push(state!.status);
      }
      expect(statuses).toEqual(['CREATED', 'CREATED', 'CREATED', 'CREATED', 'CREATED', 'CONFIRMED', 'PAID', 'SHIPPED', 'DELIVERED']);
    });

    it('equals folding the tail onto the fold of the head', () => {
      const head = fold(wholeLifecycle.slice(0, 4));
      expect(fold(wholeLifecycle.slice(4), head)).toEqual(fold(wholeLifecycle));
    });
  });

  describe.each([
    ['CREATED', [created()]],
    ['CONFIRMED', [created(), confirmed]],
    ['PAID', [created(), confirmed, paid]],
  ] as const)('when a %s order is cancelled', (_from, history) => {
    it('is CANCELLED with its items kept', () => {
      expect(fold([...history, cancelled])).toEqual({ id: ORDER_ID, userId: 'alice', status: 'CANCELLED', currency: 'USD', items: [item()] });
    });
  });
});

describe('given no events', () => {
  it('folds to null', () => {
    expect(fold([])).toBeNull();
  });

  it('folds to the initial state given', () => {
    const initial = fold([created()]);
    expect(fold([], initial)).toBe(initial);
  });
});

describe('given a state', () => {
  describe.each(wholeLifecycle.slice(1).map((event) => [event.type, event] as const))('when %s is applied', (_type, event) => {
    it('does not mutate the input state or the event, and returns a new object', () => {
      const before = fold([created([widget, gadget, item({ sku: 'X', name: 'Extra' })])])!;
      const snapshot = structuredClone(before);
      const frozenEvent = deepFreeze(structuredClone(event));
      deepFreeze(before);
      // Frozen inputs: any write to them throws in strict-mode code, so returning at all proves purity.
      const after = evolve(before, frozenEvent);
      expect(before).toEqual(snapshot);
      expect(after).not.toBe(before);
      expect(after).not.toEqual(before);
    });
  });

  describe('when an existing sku is added to a frozen state', () => {
    it('returns a new line object rather than changing the old one', () => {
      const before = deepFreeze(fold([created([widget])])!);
      const after = evolve(before, { type: 'OrderItemAdded', data: { item: item({ sku: 'W', quantity: 4 }) } })!;
      expect(after.items[0]).toEqual({ ...widget, quantity: 6 });
      expect(before.items[0]).toEqual(widget);
      expect(after.items[0]).not.toBe(before.items[0]);
    });
  });

  describe('when the same events are folded twice', () => {
    // Comparing two folds of the same array would only catch randomness; an evolve that changed the state
    // or the events in place is what makes a second fold, or a later command, see something else.
    it('leaves the events and the state it folded onto as they were, so both folds agree', () => {
      const events = structuredClone(wholeLifecycle);
      const head = fold(events.slice(0, 4));
      const headBefore = structuredClone(head);
      const first = fold(events.slice(4), head);
      expect(events).toEqual(wholeLifecycle);
      expect(head).toEqual(headBefore);
      expect(fold(events.slice(4), head)).toEqual(first);
    });
  });
});

describe('given no state (null)', () => {
  describe.each(wholeLifecycle.slice(1).map((event) => [event.type, event] as const))('when %s is applied', (type, event) => {
    it('throws, naming the event', () => {
      expect(() => evolve(null, event)).toThrow(`${type} before OrderCreated`);
    });
  });

  describe('when OrderCancelled is applied', () => {
    it('throws', () => {
      expect(() => evolve(null, cancelled)).toThrow('OrderCancelled before OrderCreated');
    });
  });

  describe('when OrderCreated is applied', () => {
    it('gives a CREATED order owned by the userId in the event', () => {
      expect(evolve(null, created([widget], 'bob', 'JPY'))).toEqual({ id: ORDER_ID, userId: 'bob', status: 'CREATED', currency: 'JPY', items: [widget] });
    });
  });
});
