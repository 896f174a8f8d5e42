import { RequestCache } from '@pothos/plugin-scope-auth';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { signToken } from '../../src/auth.js';
import { loadConfig } from '../../src/config.js';
import { builder } from '../../src/schema/builder.js';
import type { Context } from '../../src/schema/context.js';
import '../../src/schema/index.js';
import { createIdentities } from '../../src/server/identity.js';
import { createYogaApp } from '../../src/server/yoga.js';
import { securityOptions } from '../../src/security/limits.js';
import { MemoryRateLimiter } from '../../src/security/rateLimit.js';

// A request must not outlive its response. Node 20's V8 keeps a WeakMap's values through every young
// generation collection while their keys live, and collects such entries only in a full collection; an
// entry whose value holds its own key (scope-auth's cache of a context holds the context) is then
// promoted with everything the key reaches: the whole request. These run operations through the HTTP
// app's Yoga, with its plugins as served, and check that nothing keyed by the request is left behind.

const secret = 'x'.repeat(32);
const config = loadConfig({ NODE_ENV: 'test', JWT_SECRET: secret, ROLE: 'query' });

const options = {
  host: '127.0.0.1',
  port: 0,
  tokens: { secret },
  log: pino({ level: 'silent' }),
  readiness: {},
  security: securityOptions(config),
  services: { commands: null, receipts: null, reads: null, log: pino({ level: 'silent' }) } as unknown as Context['services'],
};
const yoga = createYogaApp(options, createIdentities(options.tokens), new MemoryRateLimiter(1000));

/** The scopes scope-auth has resolved and cached for a context (undefined: none cached). */
const cachedScopes = (context: object) => (RequestCache.fromContext(context as never, builder as never) as unknown as { scopes?: unknown }).scopes;

/** Runs `query` as a signed-in caller; returns the answer and every context a scope check ran with. */
async function run(query: string) {
  const scopeAuth = builder.options.scopeAuth!;
  const authScopes = scopeAuth.authScopes;
  const checked: Context[] = [];
  scopeAuth.authScopes = (context) => (checked.push(context), authScopes(context));
  try {
    const response = await yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await signToken('alice', secret)}` },
      body: JSON.stringify({ query }),
    });
    return { checked, body: (await response.json()) as { errors?: { extensions?: { code?: string } }[] } };
  } finally {
    scopeAuth.authScopes = authScopes;
  }
}

describe('given an operation that passed a scope check', () => {
  it('leaves no scope-auth cache behind it once answered', async () => {
    // order(id) has the signedIn scope; with no read role served the resolver refuses after the check.
    const { checked, body } = await run('{ order(id: "00000000-0000-4000-8000-000000000000") { id } }');
    expect(body.errors?.[0]?.extensions?.code).toBe('ROLE_NOT_SERVED');
    // The check ran, once, with the operation's context, and cached the scopes it resolved...
    expect(checked).toHaveLength(1);
    expect(checked[0]!.caller?.userId).toBe('alice');
    // ...and nothing is cached for that context once the answer is out: asked now, scope-auth starts anew.
    expect(cachedScopes(checked[0]!)).toBeUndefined();
  });

  it('leaves none behind a mutation either', async () => {
    const { checked, body } = await run('mutation { createOrder(input: { items: [{ sku: "A", name: "a", quantity: 1, unitPriceCents: 100 }] }) { orderId } }');
    expect(body.errors?.[0]?.extensions?.code).toBe('ROLE_NOT_SERVED');
    expect(checked).toHaveLength(1);
    expect(cachedScopes(checked[0]!)).toBeUndefined();
  });
});
