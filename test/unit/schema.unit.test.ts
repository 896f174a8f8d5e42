import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { printedSchema } from '../../src/schema/index.js';

describe('given the committed schema.graphql', () => {
  it('matches the schema the code builds (run `npm run codegen` after changing the schema)', async () => {
    expect(await readFile(new URL('../../schema.graphql', import.meta.url), 'utf8')).toBe(printedSchema());
  });
});
