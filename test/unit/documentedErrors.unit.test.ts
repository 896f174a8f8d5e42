import { GraphQLBoolean, GraphQLObjectType, GraphQLSchema } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { documentedError, useDocumentedErrors } from '../../src/schema/errors.js';

// The correlation id of an HTTP request reaches its errors through Yoga's server context, also for
// errors raised before a GraphQL context exists (Yoga's own masking is given the error alone).

function setup(failBeforeContext: boolean) {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const failing: Plugin = {
    onParams() {
      if (failBeforeContext) throw new Error('the limiter lost its mind at 10.0.0.7');
    },
  };
  const yoga = createYoga<{ correlationId?: string }>({
    // graphql's own classes (not graphql-tools'), so that one copy of graphql serves the test and Yoga.
    schema: new GraphQLSchema({
      query: new GraphQLObjectType({
        name: 'Query',
        fields: {
          ok: { type: GraphQLBoolean, resolve: () => true },
          broken: {
            type: GraphQLBoolean,
            resolve: () => {
              throw new Error('SELECT * FROM secrets');
            },
          },
        },
      }),
    }),
    batching: true,
    logging: false,
    plugins: [useDocumentedErrors({ log, production: true }), failing],
    maskedErrors: { maskError: (error) => documentedError(error, { log, production: true }) },
  });
  const post = async (body: unknown, correlationId: string) => {
    const response = await yoga.fetch('http://yoga/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, { correlationId });
    return (await response.json()) as unknown;
  };
  const logged = () => lines.filter((line) => line.msg === 'unexpected error');
  return { post, logged };
}

describe('when something unexpected fails in an HTTP request', () => {
  it('before a GraphQL context exists: masks it with the request correlation id, and logs it once under that id', async () => {
    const { post, logged } = setup(true);
    const body = await post({ query: '{ ok }' }, 'req-before-context');
    expect(body).toEqual({ errors: [{ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR', correlationId: 'req-before-context' } }] });
    expect(JSON.stringify(body)).not.toMatch(/limiter|10\.0\.0\.7/);
    expect(logged()).toHaveLength(1);
    expect(logged()[0]).toMatchObject({ correlationId: 'req-before-context', err: { message: 'the limiter lost its mind at 10.0.0.7' } });
  });

  it('in a batch: each operation is masked with the request id and logged once', async () => {
    const { post, logged } = setup(true);
    const body = (await post([{ query: '{ ok }' }, { query: '{ ok }' }], 'req-batch')) as { errors: { extensions: unknown }[] }[];
    expect(body.map((one) => one.errors[0]!.extensions)).toEqual([
      { code: 'INTERNAL_SERVER_ERROR', correlationId: 'req-batch' },
      { code: 'INTERNAL_SERVER_ERROR', correlationId: 'req-batch' },
    ]);
    expect(logged().map((line) => line.correlationId)).toEqual(['req-batch', 'req-batch']);
  });

  it('in a resolver: masks it with the request correlation id, and logs it once under that id', async () => {
    const { post, logged } = setup(false);
    const body = await post({ query: '{ ok broken }' }, 'req-in-resolver');
    expect(body).toEqual({
      data: { ok: true, broken: null },
      errors: [{ message: 'Unexpected error.', path: ['broken'], extensions: { code: 'INTERNAL_SERVER_ERROR', correlationId: 'req-in-resolver' } }],
    });
    expect(logged()).toHaveLength(1);
    expect(logged()[0]).toMatchObject({ correlationId: 'req-in-resolver', err: { message: 'SELECT * FROM secrets' } });
  });
});
