import { lexicographicSortSchema, printSchema } from 'graphql';
import { readModels } from '../readModels/index.js';
import { builder } from './builder.js';
import './commands.js';
import './history.js';
import './projectionStatus.js';
import './subscriptions.js';

// Each read model brings its own types and fields (src/readModels/<name>/schema.ts).
await Promise.all(readModels.map((model) => model.schema()));

export const schema = builder.toSchema();

export function printedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
