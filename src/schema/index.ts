import { lexicographicSortSchema, printSchema } from 'graphql';
import { builder } from './builder.js';
import './order.js';
import './commands.js';
import './queries.js';
import './readModels.js';
import './history.js';
import './subscriptions.js';

export const schema = builder.toSchema();

export function printedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
