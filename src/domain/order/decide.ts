import { ConflictError, ForbiddenError, InvalidStateError, NotFoundError, ValidationError } from '../errors.js';
import { type Caller, isAdmin, type OrderCommand } from './commands.js';
import { assertNever, type OrderEvent, type OrderStatus } from './events.js';
import { checkCurrency, checkItem, checkOrderId, checkItems, checkQuantity, checkText, checkTotal, limits } from './rules.js';
import { addItem, type OrderState } from './state.js';

// decide(command, state, caller) → events. Pure: no clock, no ids, no I/O; every rejection is a
// typed error. The caller is an input because ownership is part of the rules.

type Existing = OrderState;

/** A customer sees only their own orders: anyone else's does not exist for them. */
export function owned(state: OrderState | null, orderId: string, caller: Caller): Existing {
  if (!state || (state.userId !== caller.userId && !isAdmin(caller))) throw new NotFoundError(`order ${orderId} not found`);
  return state;
}

function requireStatus(state: Existing, allowed: OrderStatus[], action: string): void {
  if (!allowed.includes(state.status))
    throw new InvalidStateError(`cannot ${action} an order that is ${state.status}`, { status: state.status });
}

function requireAdmin(caller: Caller, action: string): void {
  if (!isAdmin(caller)) throw new ForbiddenError(`only an admin may ${action} an order`);
}

export function createOrder(command: Extract<OrderCommand, { type: 'CreateOrder' }>, state: OrderState | null, caller: Caller): OrderEvent[] {
  const { orderId, currency, items } = command.data;
  checkOrderId(orderId);
  if (state) throw new ConflictError(`order ${orderId} already exists`);
  checkCurrency(currency);
  checkItems(items);
  return [{ type: 'OrderCreated', data: { orderId, userId: caller.userId, currency, items } }];
}

export function addOrderItem(command: Extract<OrderCommand, { type: 'AddOrderItem' }>, state: OrderState | null, caller: Caller): OrderEvent[] {
  const order = owned(state, command.data.orderId, caller);
  const { item } = command.data;
  checkItem(item);
  requireStatus(order, ['CREATED'], 'change the items of');
  const merged = addItem(order.items, item);
  if (merged.length > limits.maxLines) throw new ValidationError(`an order has at most ${limits.maxLines} lines`, { field: 'items' });
  checkQuantity(merged.find((line) => line.sku === item.sku)!.quantity);
  checkTotal(merged);
  return [{ type: 'OrderItemAdded', data: { item } }];
}

export function removeOrderItem(command: Extract<OrderCommand, { type: 'RemoveOrderItem' }>, state: OrderState | null, caller: Caller): OrderEvent[] {
  const order = owned(state, command.data.orderId, caller);
  const { sku } = command.data;
  requireStatus(order, ['CREATED'], 'change the items of');
  if (!order.items.some((line) => line.sku === sku)) throw new ValidationError(`no item with sku ${sku}`, { field: 'sku' });
  if (order.items.length === 1) throw new InvalidStateError('cannot remove the last item; cancel the order instead');
  return [{ type: 'OrderItemRemoved', data: { sku } }];
}

export function confirmOrder(command: Extract<OrderCommand, { type: 'ConfirmOrder' }>, state: OrderState | null, caller: Caller): OrderEvent[] {
  requireStatus(owned(state, command.data.orderId, caller), ['CREATED'], 'confirm');
  return [{ type: 'OrderConfirmed', data: {} }];
}

export function payOrder(command: Extract<OrderCommand, { type: 'PayOrder' }>, state: OrderState | null, caller: Caller): OrderEvent[] {
  const order = owned(state, command.data.orderId, caller);
  checkText('paymentReference', command.data.paymentReference);
  requireStatus(order, ['CONFIRMED'], 'pay');
  return [{ type: 'OrderPaid', data: { paymentReference: command.data.paymentReference } }];
}

export function shipOrder(command: Extract<OrderCommand, { type: 'ShipOrder' }>, state: OrderState | null, caller: Caller): OrderEvent[] {
  const order = owned(state, command.data.orderId, caller);
  requireAdmin(caller, 'ship');
  checkText('trackingNumber', command.data.trackingNumber);
  requireStatus(order, ['PAID'], 'ship');
  return [{ type: 'OrderShipped', data: { trackingNumber: command.data.trackingNumber } }];
}

export function deliverOrder(command: Extract<OrderCommand, { type: 'DeliverOrder' }>, state: OrderState | null, caller: Caller): OrderEvent[] {
  const order = owned(state, command.data.orderId, caller);
  requireAdmin(caller, 'deliver');
  requireStatus(order, ['SHIPPED'], 'deliver');
  return [{ type: 'OrderDelivered', data: {} }];
}

export function cancelOrder(command: Extract<OrderCommand, { type: 'CancelOrder' }>, state: OrderState | null, caller: Caller): OrderEvent[] {
  const order = owned(state, command.data.orderId, caller);
  checkText('reason', command.data.reason);
  requireStatus(order, ['CREATED', 'CONFIRMED', 'PAID'], 'cancel');
  return [{ type: 'OrderCancelled', data: { reason: command.data.reason } }];
}

export function decide(command: OrderCommand, state: OrderState | null, caller: Caller): OrderEvent[] {
  switch (command.type) {
    case 'CreateOrder':
      return createOrder(command, state, caller);
    case 'AddOrderItem':
      return addOrderItem(command, state, caller);
    case 'RemoveOrderItem':
      return removeOrderItem(command, state, caller);
    case 'ConfirmOrder':
      return confirmOrder(command, state, caller);
    case 'PayOrder':
      return payOrder(command, state, caller);
    case 'ShipOrder':
      return shipOrder(command, state, caller);
    case 'DeliverOrder':
      return deliverOrder(command, state, caller);
    case 'CancelOrder':
      return cancelOrder(command, state, caller);
    default:
      return assertNever(command);
  }
}
