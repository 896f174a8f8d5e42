import { type ExecutionResult, execute, parse, subscribe } from 'graphql';
import type { Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import { UnauthenticatedError } from '../../src/domain/errors.js';
import type { Caller } from '../../src/domain/order/index.js';
import type { Context } from '../../src/schema/context.js';
import { toGraphQLError } from '../../src/schema/errors.js';
import { schema } from '../../src/schema/index.js';

// The admin and owner rules are the schema's auth scopes: these run the real schema with no role served,
// so a request that passes its scope ends in ROLE_NOT_SERVED from the resolver, and one that fails it
// never reaches the resolver.

const alice: Caller = { userId: 'alice', roles: [] };
const ops: Caller = { userId: 'ops', roles: ['admin'] };

function contextFor(caller: Caller | null, authError: UnauthenticatedError | null = null) {
  const acquired: string[] = [];
  const context: Context = {
    caller,
    authError,
    correlationId: 'c-1',
    services: {
      commands: null,
      receipts: null,
      reads: null,
      log: {} as Logger,
      subscriptions: {
        quota: { acquire: async (key) => (acquired.push(key), () => {}), close: async () => {} },
        max: 10,
        stallMs: 1000,
      },
    },
  };
  return { context, acquired };
}

/** What a client sees of the first error: its code and message. */
function seen(result: ExecutionResult | AsyncIterable<unknown>) {
  if (Symbol.asyncIterator in result) throw new Error('expected an error, got a stream');
  const error = result.errors?.[0];
  if (!error) throw new Error('expected an error');
  const documented = toGraphQLError(error);
  return { code: documented?.extensions.code, message: documented?.message };
}

const run = (source: string, caller: Caller | null, authError: UnauthenticatedError | null = null) =>
  execute({ schema, document: parse(source), contextValue: contextFor(caller, authError).context }) as Promise<ExecutionResult>;

describe('given an admin-only query', () => {
  it('refuses a customer with FORBIDDEN, saying what only an admin may do', async () => {
    expect(seen(await run('{ orderStats { totalOrders } }', alice))).toEqual({ code: 'FORBIDDEN', message: 'only an admin may read order statistics' });
    expect(seen(await run('{ projectionStatus { name } }', alice))).toEqual({ code: 'FORBIDDEN', message: 'only an admin may read projection status' });
  });

  it('refuses an anonymous caller with UNAUTHENTICATED, and says why a token was refused', async () => {
    expect(seen(await run('{ orderStats { totalOrders } }', null))).toEqual({ code: 'UNAUTHENTICATED', message: 'sign in: send Authorization: Bearer <token>' });
    const expired = new UnauthenticatedError('token expired');
    expect(seen(await run('{ projectionStatus { name } }', null, expired))).toEqual({ code: 'UNAUTHENTICATED', message: 'token expired' });
  });

  it('lets an admin through to the resolver', async () => {
    expect(seen(await run('{ orderStats { totalOrders } }', ops)).code).toBe('ROLE_NOT_SERVED');
    expect(seen(await run('{ projectionStatus { name } }', ops)).code).toBe('ROLE_NOT_SERVED');
  });
});

describe('given the order list', () => {
  it("refuses a customer asking for another user's orders with FORBIDDEN", async () => {
    expect(seen(await run('{ orders(userId: "bob") { totalCount } }', alice))).toEqual({ code: 'FORBIDDEN', message: "only an admin may list another user's orders" });
  });

  it('lets a customer list their own, with or without naming themselves, and an admin anyone', async () => {
    expect(seen(await run('{ orders { totalCount } }', alice)).code).toBe('ROLE_NOT_SERVED');
    expect(seen(await run('{ orders(userId: "alice") { totalCount } }', alice)).code).toBe('ROLE_NOT_SERVED');
    expect(seen(await run('{ orders(userId: "bob") { totalCount } }', ops)).code).toBe('ROLE_NOT_SERVED');
  });

  it('refuses an anonymous caller with UNAUTHENTICATED, also when naming a user', async () => {
    expect(seen(await run('{ orders { totalCount } }', null)).code).toBe('UNAUTHENTICATED');
    expect(seen(await run('{ orders(userId: "bob") { totalCount } }', null)).code).toBe('UNAUTHENTICATED');
  });
});

describe('given the audit trail', () => {
  it('refuses an anonymous caller with UNAUTHENTICATED', async () => {
    expect(seen(await run('{ orderHistory(id: "o-1") { pageInfo { hasNextPage } } }', null)).code).toBe('UNAUTHENTICATED');
  });
});

describe('given any other field that needs a caller', () => {
  it('refuses an anonymous caller with UNAUTHENTICATED, and lets a customer through to the resolver', async () => {
    const sources = [
      '{ order(id: "o-1") { id } }',
      'mutation { createOrder(input: { items: [{ sku: "A", name: "a", quantity: 1, unitPriceCents: 1 }] }) { orderId } }',
      'mutation { shipOrder(orderId: "o-1", trackingNumber: "T") { orderId } }',
    ];
    for (const source of sources) {
      expect(seen(await run(source, null)).code, source).toBe('UNAUTHENTICATED');
      expect(seen(await run(source, alice)).code, source).toBe('ROLE_NOT_SERVED');
    }
  });

  it('refuses an anonymous subscriber before taking a slot', async () => {
    const { context, acquired } = contextFor(null);
    const result = await subscribe({ schema, document: parse('subscription { orderUpdated(id: "o-1") { version } }'), contextValue: context });
    expect(seen(result).code).toBe('UNAUTHENTICATED');
    expect(acquired).toEqual([]);
  });
});

describe('given the projection status subscription', () => {
  it('refuses a customer when it opens, before taking a subscription slot', async () => {
    const { context, acquired } = contextFor(alice);
    const result = await subscribe({ schema, document: parse('subscription { projectionStatus { name } }'), contextValue: context });
    expect(seen(result)).toEqual({ code: 'FORBIDDEN', message: 'only an admin may read projection status' });
    expect(acquired).toEqual([]);
  });

  it('lets an admin take a slot and reach the resolver', async () => {
    const { context, acquired } = contextFor(ops);
    const result = await subscribe({ schema, document: parse('subscription { projectionStatus { name } }'), contextValue: context });
    expect(seen(result).code).toBe('ROLE_NOT_SERVED');
    expect(acquired).toHaveLength(1);
  });
});
