import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import type { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { QueryLimits } from './limits.js';

/**
 * graphql-armor's limits on what one operation may ask: tokens (checked while parsing, before a
 * document exists), then depth, aliases, directives and cost (validation rules). Armor raises plain
 * "Syntax Error: …" GraphQLErrors with no code; each rejection is tagged QUERY_TOO_COMPLEX here, as
 * the contract says, and answered 400 like any other invalid document. Rejections still throw, so
 * the rest of a hostile document is never looked at.
 *
 * Introspection (`__schema`) is left out of depth and cost, as armor does by default, so GraphiQL
 * works; the token limit still bounds it. Field suggestions ("Did you mean …?") are hidden in production.
 */
export function armorPlugin(limits: QueryLimits, production: boolean): Plugin {
  const onReject = [
    (_context: unknown, error: GraphQLError) => {
      error.message = error.message.replace(/^Syntax Error: /, '');
      Object.assign(error.extensions, { code: 'QUERY_TOO_COMPLEX', http: { status: 400 } });
    },
  ];
  return EnvelopArmorPlugin({
    maxTokens: { n: limits.maxTokens, onReject },
    maxDepth: { n: limits.maxDepth, onReject },
    maxAliases: { n: limits.maxAliases, onReject },
    maxDirectives: { n: limits.maxDirectives, onReject },
    costLimit: { maxCost: limits.maxCost, onReject },
    blockFieldSuggestion: { enabled: production },
  }) as Plugin;
}
