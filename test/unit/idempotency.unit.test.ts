import { describe, expect, it } from 'vitest';
import { hashRequest } from '../../src/commands/idempotency.js';

describe('when a request is hashed for its idempotency key', () => {
  const request = {
    orderId: 'ord-1',
    currency: undefined,
    items: [
      { sku: 'b-2', name: 'Tea "green" – ü', quantity: 2, unitPriceCents: 350 },
      { unitPriceCents: 0, quantity: 1, name: '日本', sku: 'A_1' },
    ],
    note: null,
  };

  it('gives the hash earlier releases stored, so their records still recognise repeats', () => {
    // Computed by the hand-written sorted-key JSON this replaced.
    expect(hashRequest('CreateOrder', request)).toBe('114688a06a970c70a951ad36f0faf3c35221aaac0c921edda127cadf2fd8dcdb');
  });

  it('ignores the order of keys', () => {
    const reordered = { note: null, items: request.items.map(({ unitPriceCents, sku, quantity, name }) => ({ unitPriceCents, sku, quantity, name })), orderId: 'ord-1' };
    expect(hashRequest('CreateOrder', reordered)).toBe(hashRequest('CreateOrder', request));
  });

  it('tells different input and a different command apart', () => {
    expect(hashRequest('CreateOrder', { ...request, orderId: 'ord-2' })).not.toBe(hashRequest('CreateOrder', request));
    expect(hashRequest('AddOrderItem', request)).not.toBe(hashRequest('CreateOrder', request));
  });
});
