// Prints the Pothos schema to schema.graphql, the input of codegen and the file clients read.
import { writeFile } from 'node:fs/promises';
import { printedSchema } from '../src/schema/index.js';

await writeFile(new URL('../schema.graphql', import.meta.url), printedSchema());
console.log('wrote schema.graphql');
