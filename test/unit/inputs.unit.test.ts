import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../src/schema/index.js';
import { checkInputs } from '../../src/security/inputs.js';

const create = parse('mutation($input: CreateOrderInput!, $key: String) { createOrder(input: $input, idempotencyKey: $key) { orderId } }');
const input = (name: string) => ({ items: [{ sku: 'A', name, quantity: 1, unitPriceCents: 1 }] });

describe('given one parsed document used by many requests', () => {
  it('checks the variables of every request, not only the first', () => {
    expect(checkInputs(schema, create, { input: input('fine') })).toBeNull();
    expect(checkInputs(schema, create, { input: input('bad \ud800') })).toMatch(/\$input\.items\[0\]\.name is not well-formed Unicode/);
    expect(checkInputs(schema, create, { input: input('fine again') })).toBeNull();
    expect(checkInputs(schema, create, { input: input('x'), key: 'k'.repeat(129) })).toMatch(/\$key is longer than 128/);
  });

  it('refuses a document whose literal is bad every time it is used', () => {
    const literal = parse('mutation { createOrder(input: { items: [{ sku: "A", name: "nul\\u0000", quantity: 1, unitPriceCents: 1 }] }) { orderId } }');
    for (let i = 0; i < 3; i++) expect(checkInputs(schema, literal, {})).toMatch(/U\+0000/);
  });

  it('accepts a paired surrogate (an emoji) and refuses either half alone', () => {
    expect(checkInputs(schema, create, { input: input('gift \ud83c\udf81') })).toBeNull();
    expect(checkInputs(schema, create, { input: input('\udf81 tail') })).toMatch(/lone surrogate/);
  });
});
