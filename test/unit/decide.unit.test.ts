import { describe, expect, it } from 'vitest';
import { ConflictError, ForbiddenError, InvalidStateError, NotFoundError, ValidationError } from '../../src/domain/errors.js';
import {
  type Caller,
  decide,
  evolve,
  type OrderCommand,
  type OrderCommandType,
  type OrderItem,
  type OrderState,
  type OrderStatus,
} from '../../src/domain/order/index.js';
import { admin, alice, bob, expectRejection, item, lines, ORDER_ID, orderIn } from './given.js';

// Commands with valid defaults; each test overrides only what it is about.
const command = {
  create: (data: Partial<{ orderId: string; currency: string; items: OrderItem[] }> = {}): OrderCommand => ({
    type: 'CreateOrder',
    data: { orderId: ORDER_ID, currency: 'USD', items: [item()], ...data },
  }),
  add: (added: OrderItem = item({ sku: 'SKU-NEW', name: 'Gadget', quantity: 3, unitPriceCents: 999 })): OrderCommand => ({
    type: 'AddOrderItem',
    data: { orderId: ORDER_ID, item: added },
  }),
  remove: (sku = 'SKU-1'): OrderCommand => ({ type: 'RemoveOrderItem', data: { orderId: ORDER_ID, sku } }),
  confirm: (): OrderCommand => ({ type: 'ConfirmOrder', data: { orderId: ORDER_ID } }),
  pay: (paymentReference = 'pay-42'): OrderCommand => ({ type: 'PayOrder', data: { orderId: ORDER_ID, paymentReference } }),
  ship: (trackingNumber = 'TRACK-42'): OrderCommand => ({ type: 'ShipOrder', data: { orderId: ORDER_ID, trackingNumber } }),
  deliver: (): OrderCommand => ({ type: 'DeliverOrder', data: { orderId: ORDER_ID } }),
  cancel: (reason = 'found it cheaper'): OrderCommand => ({ type: 'CancelOrder', data: { orderId: ORDER_ID, reason } }),
};

/** Every command on an existing order, with the single event it records when allowed. */
const onExisting: { type: OrderCommandType; make: () => OrderCommand; records: ReturnType<typeof decide> }[] = [
  { type: 'AddOrderItem', make: () => command.add(), records: [{ type: 'OrderItemAdded', data: { item: item({ sku: 'SKU-NEW', name: 'Gadget', quantity: 3, unitPriceCents: 999 }) } }] },
  { type: 'RemoveOrderItem', make: () => command.remove('SKU-1'), records: [{ type: 'OrderItemRemoved', data: { sku: 'SKU-1' } }] },
  { type: 'ConfirmOrder', make: command.confirm, records: [{ type: 'OrderConfirmed', data: {} }] },
  { type: 'PayOrder', make: () => command.pay(), records: [{ type: 'OrderPaid', data: { paymentReference: 'pay-42' } }] },
  { type: 'ShipOrder', make: () => command.ship(), records: [{ type: 'OrderShipped', data: { trackingNumber: 'TRACK-42' } }] },
  { type: 'DeliverOrder', make: command.deliver, records: [{ type: 'OrderDelivered', data: {} }] },
  { type: 'CancelOrder', make: () => command.cancel(), records: [{ type: 'OrderCancelled', data: { reason: 'found it cheaper' } }] },
];

/** The lifecycle from the contract: where each command is allowed. */
const allowedIn: Record<Exclude<OrderCommandType, 'CreateOrder'>, OrderStatus[]> = {
  AddOrderItem: ['CREATED'],
  RemoveOrderItem: ['CREATED'],
  ConfirmOrder: ['CREATED'],
  PayOrder: ['CONFIRMED'],
  ShipOrder: ['PAID'],
  DeliverOrder: ['SHIPPED'],
  CancelOrder: ['CREATED', 'CONFIRMED', 'PAID'],
};

const statuses: OrderStatus[] = ['CREATED', 'CONFIRMED', 'PAID', 'SHIPPED', 'DELIVERED', 'CANCELLED'];
const twoLines = (): OrderItem[] => [item({ sku: 'SKU-1' }), item({ sku: 'SKU-2', name: 'Other' })];

describe('the whole lifecycle', () => {
  it('walks CREATED → CONFIRMED → PAID → SHIPPED → DELIVERED, one exact event per command', () => {
    const steps: [Caller, OrderCommand, ReturnType<typeof decide>, OrderStatus][] = [
      [alice, command.create(), [{ type: 'OrderCreated', data: { orderId: ORDER_ID, userId: 'alice', currency: 'USD', items: [item()] } }], 'CREATED'],
      [alice, command.confirm(), [{ type: 'OrderConfirmed', data: {} }], 'CONFIRMED'],
      [alice, command.pay('pay-1'), [{ type: 'OrderPaid', data: { paymentReference: 'pay-1' } }], 'PAID'],
      [admin, command.ship('TRK-1'), [{ type: 'OrderShipped', data: { trackingNumber: 'TRK-1' } }], 'SHIPPED'],
      [admin, command.deliver(), [{ type: 'OrderDelivered', data: {} }], 'DELIVERED'],
    ];
    let state: OrderState | null = null;
    for (const [caller, cmd, expected, status] of steps) {
      const events = decide(cmd, state, caller);
      expect(events).toEqual(expected);
      for (const event of events) state = evolve(state, event);
      expect(state?.status).toBe(status);
    }
  });
});

describe('given no order', () => {
  describe('when a customer creates it', () => {
    it('records OrderCreated owned by the caller, with the currency and items given', () => {
      const items = [item(), item({ sku: 'SKU-2', name: 'Other', quantity: 1, unitPriceCents: 0 })];
      expect(decide(command.create({ currency: 'EUR', items }), null, alice)).toEqual([
        { type: 'OrderCreated', data: { orderId: ORDER_ID, userId: 'alice', currency: 'EUR', items } },
      ]);
    });
  });

  describe('when an admin creates it', () => {
    it('records OrderCreated owned by the admin', () => {
      const [event] = decide(command.create(), null, admin);
      expect(event).toMatchObject({ type: 'OrderCreated', data: { userId: 'root' } });
    });
  });

  describe.each([
    ['a customer', alice],
    ['an admin', admin],
  ])('when %s sends a command for it', (_who, caller) => {
    it.each(onExisting.map((c) => [c.type, c.make] as const))('%s is rejected with NOT_FOUND', (_type, make) => {
      expectRejection(() => decide(make(), null, caller), NotFoundError, 'NOT_FOUND');
    });
  });
});

describe('given a create command with a client-chosen orderId', () => {
  describe('when the id is 1-64 of A-Z a-z 0-9 _ -', () => {
    it.each(['a', 'Order_1-x', 'x'.repeat(64)])('accepts %j', (orderId) => {
      expect(decide(command.create({ orderId }), null, alice)).toMatchObject([{ type: 'OrderCreated', data: { orderId } }]);
    });
  });

  describe('when the id could break a bus subject or a storage key', () => {
    it.each(['', 'poison id', 'a.b', 'orders.*', 'a>', 'x'.repeat(65), 'caf\u00e9', 'tab\tid', 'a:b', '{tag}'])('rejects %j with BAD_USER_INPUT on orderId', (orderId) => {
      const rejected = expectRejection(() => decide(command.create({ orderId }), null, alice), ValidationError, 'BAD_USER_INPUT');
      expect(rejected.details).toEqual({ field: 'orderId' });
    });
  });

  describe('when the id is invalid and an order exists under it', () => {
    it('answers BAD_USER_INPUT, not CONFLICT', () => {
      expectRejection(() => decide(command.create({ orderId: 'poison id' }), orderIn('CREATED'), alice), ValidationError, 'BAD_USER_INPUT');
    });
  });
});

describe('given a create command with item limits', () => {
  describe('when the number of lines is at or beyond the limits', () => {
    it.each([
      [1, true],
      [100, true],
      [0, false],
      [101, false],
    ])('%i lines: accepted = %s', (count, accepted) => {
      const create = () => decide(command.create({ items: lines(count) }), null, alice);
      if (accepted) expect(create()).toEqual([{ type: 'OrderCreated', data: { orderId: ORDER_ID, userId: 'alice', currency: 'USD', items: lines(count) } }]);
      else expect(expectRejection(create, ValidationError, 'BAD_USER_INPUT').details).toEqual({ field: 'items' });
    });
  });

  describe('when two lines share a sku', () => {
    it('is rejected with BAD_USER_INPUT on sku', () => {
      const items = [item({ sku: 'SAME' }), item({ sku: 'OTHER' }), item({ sku: 'SAME', name: 'again' })];
      const error = expectRejection(() => decide(command.create({ items }), null, alice), ValidationError, 'BAD_USER_INPUT');
      expect(error.details).toEqual({ field: 'sku' });
      expect(error.message).toContain('SAME');
    });

    it('treats skus differing only in case as different', () => {
      const items = [item({ sku: 'abc' }), item({ sku: 'ABC' })];
      expect(decide(command.create({ items }), null, alice)).toHaveLength(1);
    });
  });
});

// One line's fields at and beyond their limits; the same rules hold for createOrder and addOrderItem.
const itemCases: { case: string; item: Partial<OrderItem>; rejectedOn?: keyof OrderItem }[] = [
  { case: 'sku of 1 character', item: { sku: 'a' } },
  { case: 'sku of 64 characters', item: { sku: 'a'.repeat(64) } },
  { case: 'sku of every allowed character class', item: { sku: 'AZaz09-_.' } },
  { case: 'empty sku', item: { sku: '' }, rejectedOn: 'sku' },
  { case: 'sku of 65 characters', item: { sku: 'a'.repeat(65) }, rejectedOn: 'sku' },
  { case: 'sku with a space', item: { sku: 'ab c' }, rejectedOn: 'sku' },
  { case: 'sku with a slash', item: { sku: 'ab/c' }, rejectedOn: 'sku' },
  { case: 'sku with a non-ASCII letter', item: { sku: 'abç' }, rejectedOn: 'sku' },
  { case: 'sku with a trailing newline', item: { sku: 'abc\n' }, rejectedOn: 'sku' },
  { case: 'name of 1 character', item: { name: 'x' } },
  { case: 'name of 200 characters', item: { name: 'x'.repeat(200) } },
  { case: 'name of 200 emoji (400 UTF-16 units)', item: { name: '📦'.repeat(200) } },
  { case: 'empty name', item: { name: '' }, rejectedOn: 'name' },
  { case: 'name of 201 characters', item: { name: 'x'.repeat(201) }, rejectedOn: 'name' },
  { case: 'name of 201 emoji', item: { name: '📦'.repeat(201) }, rejectedOn: 'name' },
  { case: 'quantity 1', item: { quantity: 1 } },
  { case: 'quantity 1000', item: { quantity: 1000 } },
  { case: 'quantity 0', item: { quantity: 0 }, rejectedOn: 'quantity' },
  { case: 'quantity -1', item: { quantity: -1 }, rejectedOn: 'quantity' },
  { case: 'quantity 1001', item: { quantity: 1001 }, rejectedOn: 'quantity' },
  { case: 'quantity 1.5', item: { quantity: 1.5 }, rejectedOn: 'quantity' },
  { case: 'quantity NaN', item: { quantity: Number.NaN }, rejectedOn: 'quantity' },
  { case: 'unitPriceCents 0', item: { unitPriceCents: 0 } },
  { case: 'unitPriceCents 10,000,000', item: { unitPriceCents: 10_000_000 } },
  { case: 'unitPriceCents -1', item: { unitPriceCents: -1 }, rejectedOn: 'unitPriceCents' },
  { case: 'unitPriceCents 10,000,001', item: { unitPriceCents: 10_000_001 }, rejectedOn: 'unitPriceCents' },
  { case: 'unitPriceCents 0.5', item: { unitPriceCents: 0.5 }, rejectedOn: 'unitPriceCents' },
  { case: 'unitPriceCents Infinity', item: { unitPriceCents: Number.POSITIVE_INFINITY }, rejectedOn: 'unitPriceCents' },
];

describe.each([
  ['a create command', (line: OrderItem) => decide(command.create({ items: [line] }), null, alice), (line: OrderItem) => [{ type: 'OrderCreated', data: { orderId: ORDER_ID, userId: 'alice', currency: 'USD', items: [line] } }]],
  ['an add command on a created order', (line: OrderItem) => decide(command.add(line), orderIn('CREATED', [item({ sku: 'EXISTING' })]), alice), (line: OrderItem) => [{ type: 'OrderItemAdded', data: { item: line } }]],
])('given %s', (_given, run, expected) => {
  describe('when one line has', () => {
    it.each(itemCases.map((c) => [c.case, c.item, c.rejectedOn] as const))('%s', (_case, overrides, rejectedOn) => {
      const line = item(overrides);
      if (rejectedOn) expect(expectRejection(() => run(line), ValidationError, 'BAD_USER_INPUT').details).toEqual({ field: rejectedOn });
      else expect(run(line)).toEqual(expected(line));
    });
  });
});

describe('given a create command with a currency', () => {
  // The default USD is filled in by the GraphQL layer before decide; decide sees an explicit currency.
  it.each(['USD', 'EUR', 'JPY'])('when it is %s, it is recorded as given', (currency) => {
    expect(decide(command.create({ currency }), null, alice)).toMatchObject([{ type: 'OrderCreated', data: { currency } }]);
  });

  it.each(['usd', 'Usd', 'US', 'USDX', '', ' USD', 'US1', 'ÄBC'])('when it is %j, it is rejected with BAD_USER_INPUT on currency', (currency) => {
    const error = expectRejection(() => decide(command.create({ currency }), null, alice), ValidationError, 'BAD_USER_INPUT');
    expect(error.details).toEqual({ field: 'currency' });
  });
});

describe('given an existing order', () => {
  describe.each([
    ['its owner', alice],
    ['another customer', bob],
    ['an admin', admin],
  ])('when %s creates an order with the same id', (_who, caller) => {
    it.each(statuses)('in status %s, it is rejected with CONFLICT', (status) => {
      expectRejection(() => decide(command.create(), orderIn(status), caller), ConflictError, 'CONFLICT');
    });
  });

  describe('when it is created again with invalid input', () => {
    it('reports CONFLICT before looking at the input', () => {
      expectRejection(() => decide(command.create({ items: [], currency: 'usd' }), orderIn('CREATED'), alice), ConflictError, 'CONFLICT');
    });
  });
});

describe.each(statuses)('given a %s order', (status) => {
  const state = () => orderIn(status, twoLines());

  describe.each(onExisting.map((c) => [c.type, c.make, c.records] as const))('when an admin sends %s', (type, make, records) => {
    const allowed = allowedIn[type as keyof typeof allowedIn].includes(status);
    it(allowed ? `records ${records[0]!.type}` : 'is rejected with INVALID_STATE', () => {
      if (allowed) expect(decide(make(), state(), admin)).toEqual(records);
      else expect(expectRejection(() => decide(make(), state(), admin), InvalidStateError, 'INVALID_STATE').details).toEqual({ status });
    });
  });

  describe.each(onExisting.filter((c) => c.type !== 'ShipOrder' && c.type !== 'DeliverOrder').map((c) => [c.type, c.make, c.records] as const))('when its owner sends %s', (type, make, records) => {
    const allowed = allowedIn[type as keyof typeof allowedIn].includes(status);
    it(allowed ? `records ${records[0]!.type}` : 'is rejected with INVALID_STATE', () => {
      if (allowed) expect(decide(make(), state(), alice)).toEqual(records);
      else expectRejection(() => decide(make(), state(), alice), InvalidStateError, 'INVALID_STATE');
    });
  });

  describe.each([
    ['ships', command.ship],
    ['delivers', command.deliver],
  ])('when its owner (a customer) %s it', (_verb, make) => {
    it('is rejected with FORBIDDEN', () => {
      expectRejection(() => decide(make(), state(), alice), ForbiddenError, 'FORBIDDEN');
    });
  });

  describe.each(onExisting.map((c) => [c.type, c.make] as const))('when another customer sends %s', (_type, make) => {
    it('is rejected with NOT_FOUND, as if the order did not exist', () => {
      const error = expectRejection(() => decide(make(), state(), bob), NotFoundError, 'NOT_FOUND');
      expect(error.message).not.toContain('alice');
    });
  });
});

describe('given a created order', () => {
  describe('when its owner adds a new sku', () => {
    it('records OrderItemAdded with exactly the item given', () => {
      const added = item({ sku: 'NEW', name: 'New thing', quantity: 7, unitPriceCents: 5 });
      expect(decide(command.add(added), orderIn('CREATED'), alice)).toEqual([{ type: 'OrderItemAdded', data: { item: added } }]);
    });
  });

  describe('when its owner adds an existing sku', () => {
    const order = () => orderIn('CREATED', [item({ sku: 'SKU-1', quantity: 600, unitPriceCents: 100 })]);

    it('records OrderItemAdded, which adds to the quantity of that line', () => {
      const added = item({ sku: 'SKU-1', quantity: 5 });
      const events = decide(command.add(added), order(), alice);
      expect(events).toEqual([{ type: 'OrderItemAdded', data: { item: added } }]);
      const after = evolve(order(), events[0]!);
      expect(after?.items).toEqual([item({ sku: 'SKU-1', quantity: 605, unitPriceCents: 100 })]);
    });

    it('accepts a sum of exactly 1000', () => {
      expect(decide(command.add(item({ sku: 'SKU-1', quantity: 400 })), order(), alice)).toHaveLength(1);
    });

    it('rejects a sum of 1001 with BAD_USER_INPUT on quantity, though each quantity alone is valid', () => {
      const error = expectRejection(() => decide(command.add(item({ sku: 'SKU-1', quantity: 401 })), order(), alice), ValidationError, 'BAD_USER_INPUT');
      expect(error.details).toEqual({ field: 'quantity' });
    });
  });

  describe('when it has 99 lines and a 100th is added', () => {
    it('records OrderItemAdded', () => {
      expect(decide(command.add(item({ sku: 'LINE-100' })), orderIn('CREATED', lines(99)), alice)).toHaveLength(1);
    });
  });

  describe('when it has 100 lines', () => {
    it('rejects a 101st line with BAD_USER_INPUT on items', () => {
      const error = expectRejection(() => decide(command.add(item({ sku: 'LINE-101' })), orderIn('CREATED', lines(100)), alice), ValidationError, 'BAD_USER_INPUT');
      expect(error.details).toEqual({ field: 'items' });
    });

    it('still accepts more of an existing sku, which adds no line', () => {
      expect(decide(command.add(item({ sku: 'sku-50', quantity: 1 })), orderIn('CREATED', lines(100)), alice)).toEqual([
        { type: 'OrderItemAdded', data: { item: item({ sku: 'sku-50', quantity: 1 }) } },
      ]);
    });
  });

  describe('when its owner removes one of two lines', () => {
    it('records OrderItemRemoved for that sku', () => {
      expect(decide(command.remove('SKU-2'), orderIn('CREATED', twoLines()), alice)).toEqual([{ type: 'OrderItemRemoved', data: { sku: 'SKU-2' } }]);
    });
  });

  describe('when its owner removes the last line', () => {
    it('is rejected with INVALID_STATE (cancel instead)', () => {
      expectRejection(() => decide(command.remove('SKU-1'), orderIn('CREATED', [item({ sku: 'SKU-1' })]), alice), InvalidStateError, 'INVALID_STATE');
    });
  });

  describe('when its owner removes a sku it does not have', () => {
    it.each([
      ['one line', [item({ sku: 'SKU-1' })]],
      ['two lines', twoLines()],
    ])('with %s, it is rejected with BAD_USER_INPUT on sku', (_n, items) => {
      const error = expectRejection(() => decide(command.remove('NOPE'), orderIn('CREATED', items), alice), ValidationError, 'BAD_USER_INPUT');
      expect(error.details).toEqual({ field: 'sku' });
    });

    it('matches skus case-sensitively', () => {
      expectRejection(() => decide(command.remove('sku-1'), orderIn('CREATED', twoLines()), alice), ValidationError, 'BAD_USER_INPUT');
    });
  });
});

describe('given an order that is no longer CREATED', () => {
  describe.each(['CONFIRMED', 'PAID', 'SHIPPED', 'DELIVERED', 'CANCELLED'] as const)('(%s) when its owner changes its items', (status) => {
    it('adding is rejected with INVALID_STATE', () => {
      expectRejection(() => decide(command.add(), orderIn(status, twoLines()), alice), InvalidStateError, 'INVALID_STATE');
    });
    it('removing is rejected with INVALID_STATE', () => {
      expectRejection(() => decide(command.remove('SKU-2'), orderIn(status, twoLines()), alice), InvalidStateError, 'INVALID_STATE');
    });
  });
});

describe('given a paid order', () => {
  describe('when a customer cancels it', () => {
    it('records OrderCancelled with the reason', () => {
      expect(decide(command.cancel('too slow'), orderIn('PAID'), alice)).toEqual([{ type: 'OrderCancelled', data: { reason: 'too slow' } }]);
    });
  });

  describe('when an admin ships it', () => {
    it('records OrderShipped with the tracking number', () => {
      expect(decide(command.ship('1Z999'), orderIn('PAID'), admin)).toEqual([{ type: 'OrderShipped', data: { trackingNumber: '1Z999' } }]);
    });
  });

  describe('when its owner ships it', () => {
    it('is rejected with FORBIDDEN', () => {
      expectRejection(() => decide(command.ship(), orderIn('PAID'), alice), ForbiddenError, 'FORBIDDEN');
    });
  });

  describe('when another customer ships it', () => {
    it('is rejected with NOT_FOUND, not FORBIDDEN: the order is not leaked', () => {
      expectRejection(() => decide(command.ship(), orderIn('PAID'), bob), NotFoundError, 'NOT_FOUND');
    });
  });

  describe('when a user holding other roles but not admin ships it', () => {
    it('is rejected with FORBIDDEN', () => {
      expectRejection(() => decide(command.ship(), orderIn('PAID'), { userId: 'alice', roles: ['support', 'Admin'] }), ForbiddenError, 'FORBIDDEN');
    });
  });
});

describe('given a shipped order', () => {
  describe('when an admin delivers it', () => {
    it('records OrderDelivered', () => {
      expect(decide(command.deliver(), orderIn('SHIPPED'), admin)).toEqual([{ type: 'OrderDelivered', data: {} }]);
    });
  });

  describe.each([
    ['its owner', alice],
    ['an admin', admin],
  ])('when %s cancels it', (_who, caller) => {
    it('is rejected with INVALID_STATE', () => {
      expectRejection(() => decide(command.cancel(), orderIn('SHIPPED'), caller), InvalidStateError, 'INVALID_STATE');
    });
  });
});

describe('given a delivered order', () => {
  describe('when its owner cancels it', () => {
    it('is rejected with INVALID_STATE', () => {
      expectRejection(() => decide(command.cancel(), orderIn('DELIVERED'), alice), InvalidStateError, 'INVALID_STATE');
    });
  });
});

describe('given a cancelled order', () => {
  describe('when its owner pays it', () => {
    it('is rejected with INVALID_STATE', () => {
      const error = expectRejection(() => decide(command.pay(), orderIn('CANCELLED'), alice), InvalidStateError, 'INVALID_STATE');
      expect(error.details).toEqual({ status: 'CANCELLED' });
    });
  });

  describe('when its owner cancels it again', () => {
    it('is rejected with INVALID_STATE', () => {
      expectRejection(() => decide(command.cancel(), orderIn('CANCELLED'), alice), InvalidStateError, 'INVALID_STATE');
    });
  });
});

describe("given another customer's order", () => {
  describe('when an admin acts on it', () => {
    it.each([
      ['adds an item', 'CREATED', 'OrderItemAdded', command.add(item({ sku: 'BY-ADMIN' }))],
      ['removes an item', 'CREATED', 'OrderItemRemoved', command.remove('SKU-2')],
      ['confirms it', 'CREATED', 'OrderConfirmed', command.confirm()],
      ['pays it', 'CONFIRMED', 'OrderPaid', command.pay()],
      ['ships it', 'PAID', 'OrderShipped', command.ship()],
      ['delivers it', 'SHIPPED', 'OrderDelivered', command.deliver()],
      ['cancels it', 'PAID', 'OrderCancelled', command.cancel()],
    ] as const)('%s (in %s): records %s', (_what, status, eventType, cmd) => {
      const events = decide(cmd, orderIn(status, twoLines(), 'carol'), admin);
      expect(events.map((e) => e.type)).toEqual([eventType]);
    });
  });
});

describe('given free-text inputs', () => {
  const blanks = ['', ' ', '   ', '\t\n', '\u00a0'];
  const texts = [
    ['paymentReference', 'CONFIRMED', command.pay],
    ['trackingNumber', 'PAID', command.ship],
    ['reason', 'CREATED', command.cancel],
  ] as const;

  describe.each(texts)('when %s is blank', (field, status, make) => {
    it.each(blanks)('%j is rejected with BAD_USER_INPUT', (blank) => {
      const error = expectRejection(() => decide(make(blank), orderIn(status), admin), ValidationError, 'BAD_USER_INPUT');
      expect(error.details).toEqual({ field });
    });
  });

  describe.each(texts)('when %s is at the length limit', (field, status, make) => {
    it('500 characters are recorded', () => {
      const events = decide(make('r'.repeat(500)), orderIn(status), admin);
      expect(events).toHaveLength(1);
      expect(Object.values(events[0]!.data)).toEqual(['r'.repeat(500)]);
    });
    it('501 characters are rejected with BAD_USER_INPUT', () => {
      expect(expectRejection(() => decide(make('r'.repeat(501)), orderIn(status), admin), ValidationError, 'BAD_USER_INPUT').details).toEqual({ field });
    });
  });
});

describe('given the contract carries amounts as 32-bit GraphQL Int', () => {
  describe('when an order would total more than 2,147,483,647 cents', () => {
    it('rejects the create with BAD_USER_INPUT', () => {
      const items = [item({ sku: 'BIG', quantity: 215, unitPriceCents: 10_000_000 })];
      const command = { type: 'CreateOrder' as const, data: { orderId: ORDER_ID, currency: 'USD', items } };
      expectRejection(() => decide(command, null, alice), ValidationError, 'BAD_USER_INPUT');
    });

    it('rejects an added item that pushes the total over', () => {
      const state = evolve(null, { type: 'OrderCreated', data: { orderId: ORDER_ID, userId: alice.userId, currency: 'USD', items: [item({ sku: 'BIG', quantity: 214, unitPriceCents: 10_000_000 })] } });
      const command = { type: 'AddOrderItem' as const, data: { orderId: ORDER_ID, item: item({ sku: 'MORE', quantity: 1, unitPriceCents: 10_000_000 }) } };
      expectRejection(() => decide(command, state, alice), ValidationError, 'BAD_USER_INPUT');
    });

    it('accepts an order of exactly 2,140,000,000 cents', () => {
      const items = [item({ sku: 'BIG', quantity: 214, unitPriceCents: 10_000_000 })];
      expect(decide({ type: 'CreateOrder', data: { orderId: ORDER_ID, currency: 'USD', items } }, null, alice)).toHaveLength(1);
    });
  });
});
