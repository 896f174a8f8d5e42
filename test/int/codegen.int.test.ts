import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { generate } from '@graphql-codegen/cli';
import { describe, expect, it } from 'vitest';
import config from '../../codegen.js';

describe('given the committed client/generated files', () => {
  it('match what codegen produces from schema.graphql and the operations (run `npm run codegen`)', async () => {
    const outputs = (await generate({ ...config, silent: true, cwd: process.cwd() }, false)) as { filename: string; content: string }[];
    expect(outputs.length).toBeGreaterThan(0);
    for (const output of outputs) {
      const committed = await readFile(path.resolve(output.filename), 'utf8');
      expect(committed, output.filename).toBe(output.content);
    }
  });
});
