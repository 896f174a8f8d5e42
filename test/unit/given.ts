// Tiny shared builders for the unit tests: callers, items, events and the states they fold into.
import { expect } from 'vitest';
import { AppError, type ErrorCode } from '../../src/domain/errors.js';
import { type Caller, fold, type OrderEvent, type OrderItem, type OrderState, type OrderStatus } from '../../src/domain/order/index.js';

export const ORDER_ID = 'order-1';

export const alice: Caller = { userId: 'alice', roles: [] };
export const bob: Caller = { userId: 'bob', roles: [] };
export const admin: Caller = { userId: 'root', roles: ['admin'] };

export function item(overrides: Partial<OrderItem> = {}): OrderItem {
  return { sku: 'SKU-1', name: 'Widget', quantity: 2, unitPriceCents: 1250, ...overrides };
}

/** `count` distinct lines sku-1, sku-2, ... */
export function lines(count: number): OrderItem[] {
  return Array.from({ length: count }, (_, i) => item({ sku: `sku-${i + 1}`, name: `Item ${i + 1}` }));
}

export function created(items: OrderItem[] = [item()], owner: string = alice.userId, currency = 'USD'): OrderEvent {
  return { type: 'OrderCreated', data: { orderId: ORDER_ID, userId: owner, currency, items } };
}

export const confirmed: OrderEvent = { type: 'OrderConfirmed', data: {} };
export const paid: OrderEvent = { type: 'OrderPaid', data: { paymentReference: 'pay-123' } };
export const shipped: OrderEvent = { type: 'OrderShipped', data: { trackingNumber: 'TRACK-9' } };
export const delivered: OrderEvent = { type: 'OrderDelivered', data: {} };
export const cancelled: OrderEvent = { type: 'OrderCancelled', data: { reason: 'changed my mind' } };

/** The events that bring an order to `status`, starting from `first` (an OrderCreated). */
export function historyTo(status: OrderStatus, first: OrderEvent = created()): OrderEvent[] {
  switch (status) {
    case 'CREATED':
      return [first];
    case 'CONFIRMED':
      return [first, confirmed];
    case 'PAID':
      return [first, confirmed, paid];
    case 'SHIPPED':
      return [first, confirmed, paid, shipped];
    case 'DELIVERED':
      return [first, confirmed, paid, shipped, delivered];
    case 'CANCELLED':
      return [first, cancelled];
  }
}

/** Alice's order (or `owner`'s) in `status`, folded from its events. */
export function orderIn(status: OrderStatus, items: OrderItem[] = [item()], owner: string = alice.userId): OrderState {
  const state = fold(historyTo(status, created(items, owner)));
  if (!state) throw new Error('fold gave no state');
  expect(state.status).toBe(status);
  return state;
}

/** Runs `fn`, which must throw an AppError, and returns that error. */
export function rejectionOf(fn: () => unknown): AppError {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  if (thrown === undefined) throw new Error('expected a rejection, but it succeeded');
  expect(thrown).toBeInstanceOf(AppError);
  return thrown as AppError;
}

/** Asserts `fn` is rejected with exactly this error class and code. */
export function expectRejection(fn: () => unknown, errorClass: abstract new (...args: never[]) => AppError, code: ErrorCode): AppError {
  const error = rejectionOf(fn);
  expect(error).toBeInstanceOf(errorClass);
  expect(error.constructor).toBe(errorClass);
  expect(error.code).toBe(code);
  return error;
}
