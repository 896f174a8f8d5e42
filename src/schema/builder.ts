import SchemaBuilder from '@pothos/core';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin, { AuthScopeFailureType, type AuthFailure, RequestCache } from '@pothos/plugin-scope-auth';
import type { Plugin } from 'graphql-yoga';
import { ForbiddenError, UnauthenticatedError } from '../domain/errors.js';
import { isAdmin } from '../domain/order/index.js';
import type { Context, SignedIn } from './context.js';

export const builder = new SchemaBuilder<{
  Context: Context;
  Scalars: { DateTime: { Input: Date; Output: Date | string }; JSON: { Input: unknown; Output: unknown } };
  DefaultFieldNullability: false;
  DefaultEdgesNullability: { list: false; items: false };
  DefaultNodeNullability: false;
  // `admin` takes what the field does ("read order statistics") for the FORBIDDEN message only.
  AuthScopes: { signedIn: boolean; admin: string };
  AuthContexts: { signedIn: SignedIn; admin: SignedIn };
}>({
  // scope-auth first, so its check runs before any other plugin's resolver wrapper.
  plugins: [ScopeAuthPlugin, RelayPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    // Checked when a subscription opens (before it takes a MAX_SUBSCRIPTIONS_PER_CALLER slot), not per event.
    authorizeOnSubscribe: true,
    authScopes: (context) => ({
      signedIn: context.caller !== null,
      admin: () => context.caller !== null && isAdmin(context.caller),
    }),
    // Clients see the codes and messages of API.md: no caller is UNAUTHENTICATED (saying why the token
    // was refused, if one was sent), a caller without the scope FORBIDDEN.
    unauthorizedError: (_parent, context, _info, result) => {
      if (context.caller === null) return context.authError ?? new UnauthenticatedError('sign in: send Authorization: Bearer <token>');
      const action = adminAction(result.failure);
      return new ForbiddenError(action === null ? result.message : `only an admin may ${action}`);
    },
  },
  relay: {
    // No global object identification: orders are fetched by their own id, not a Node id.
    nodeQueryOptions: false,
    nodesQueryOptions: false,
    cursorType: 'String',
    edgesFieldOptions: { nullable: { list: false, items: false } },
    nodeFieldOptions: { nullable: false },
  },
});

/**
 * Drops scope-auth's cache of an operation's context once the operation has run. The plugin keeps it in a
 * WeakMap keyed by the context, and the cache holds the context, hence the whole request (its headers,
 * body, response). Node 20's V8 collects a WeakMap's entries only in a full collection: its young
 * generation collections keep every value whose key is alive, and this value keeps its own key. So every
 * request that reached an authorized field outlived the young generation and was promoted: about 10 KiB
 * of each `order(id)` and `createOrder`, and a major collection every few seconds under load
 * (`bench/micro/alloc.ts --promoted`, docs/operations.md "Garbage collection"). Deleted, the entry is
 * gone before the next young collection and the request dies young.
 */
export const releaseAuthCache: Plugin = {
  onExecute: ({ args }) => ({ onExecuteDone: () => RequestCache.clearForContext(args.contextValue) }),
};

function adminAction(failure: AuthFailure): string | null {
  if (failure.kind === AuthScopeFailureType.AuthScope && failure.scope === 'admin') return String(failure.parameter);
  if (failure.kind === AuthScopeFailureType.AnyAuthScopes || failure.kind === AuthScopeFailureType.AllAuthScopes)
    for (const child of failure.failures) {
      const action = adminAction(child);
      if (action !== null) return action;
    }
  return null;
}

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});

builder.scalarType('DateTime', {
  description: 'ISO-8601 string in UTC',
  serialize: (value) => (value instanceof Date ? value : new Date(value)).toISOString(),
  parseValue: (value) => {
    const date = typeof value === 'string' ? new Date(value) : new Date(Number.NaN);
    if (Number.isNaN(date.getTime())) throw new TypeError('DateTime must be an ISO-8601 string');
    return date;
  },
});
