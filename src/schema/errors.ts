import { GraphQLError } from 'graphql';
import { AppError } from '../domain/errors.js';

/** The one place an expected error becomes a GraphQL error with its documented code. */
export function toGraphQLError(error: unknown): GraphQLError | null {
  const original = error instanceof GraphQLError && error.originalError ? error.originalError : error;
  if (!(original instanceof AppError)) return null;
  const path = error instanceof GraphQLError ? error.path : undefined;
  return new GraphQLError(original.message, {
    path,
    extensions: { code: original.code, ...original.details },
  });
}
