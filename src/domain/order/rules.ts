import { ValidationError } from '../errors.js';
import type { OrderItem } from './events.js';

// The rules of an order's content, from the public contract.
export const limits = {
  maxLines: 100,
  maxQuantity: 1000,
  maxUnitPriceCents: 10_000_000,
  maxNameLength: 200,
  maxTextLength: 500,
  /** Amounts are GraphQL Int (32-bit signed) in the public contract, so no order may total more. */
  maxTotalCents: 2_147_483_647,
} as const;

const skuPattern = /^[A-Za-z0-9._-]{1,64}$/;
// An order id is a NATS subject token and part of Redis keys: no dots, spaces or wildcards, ever.
const orderIdPattern = /^[A-Za-z0-9_-]{1,64}$/;
const currencyPattern = /^[A-Z]{3}$/;

export function checkItem(item: OrderItem): void {
  if (!skuPattern.test(item.sku)) throw new ValidationError('sku must be 1-64 of A-Z a-z 0-9 - _ .', { field: 'sku' });
  const nameLength = [...item.name].length;
  if (nameLength < 1 || nameLength > limits.maxNameLength)
    throw new ValidationError(`name must be 1-${limits.maxNameLength} characters`, { field: 'name' });
  checkQuantity(item.quantity);
  if (!Number.isInteger(item.unitPriceCents) || item.unitPriceCents < 0 || item.unitPriceCents > limits.maxUnitPriceCents)
    throw new ValidationError(`unitPriceCents must be 0-${limits.maxUnitPriceCents}`, { field: 'unitPriceCents' });
}

export function checkQuantity(quantity: number): void {
  if (!Number.isInteger(quantity) || quantity < 1 || quantity > limits.maxQuantity)
    throw new ValidationError(`quantity must be 1-${limits.maxQuantity}`, { field: 'quantity' });
}

export function checkItems(items: OrderItem[]): void {
  if (items.length < 1 || items.length > limits.maxLines)
    throw new ValidationError(`an order has 1-${limits.maxLines} lines`, { field: 'items' });
  const skus = new Set<string>();
  for (const item of items) {
    checkItem(item);
    if (skus.has(item.sku)) throw new ValidationError(`duplicate sku ${item.sku}`, { field: 'sku' });
    skus.add(item.sku);
  }
  checkTotal(items);
}

/** What one line of an order costs. */
export const lineTotalCents = (item: OrderItem): number => item.quantity * item.unitPriceCents;

/** What an order costs: the sum of its lines. */
export const orderTotalCents = (items: readonly OrderItem[]): number => items.reduce((sum, item) => sum + lineTotalCents(item), 0);

export function checkTotal(items: OrderItem[]): void {
  if (orderTotalCents(items) > limits.maxTotalCents)
    throw new ValidationError(`an order may total at most ${limits.maxTotalCents} cents`, { field: 'items' });
}

export function checkOrderId(orderId: string): void {
  if (!orderIdPattern.test(orderId)) throw new ValidationError('orderId must be 1-64 of A-Z a-z 0-9 _ -', { field: 'orderId' });
}

export function checkCurrency(currency: string): void {
  if (!currencyPattern.test(currency)) throw new ValidationError('currency must be three capital letters', { field: 'currency' });
}

export function checkText(field: string, value: string): void {
  const length = [...value.trim()].length;
  if (length < 1 || length > limits.maxTextLength)
    throw new ValidationError(`${field} must be 1-${limits.maxTextLength} characters`, { field });
}
