import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { canonicalPrint, loadTrustedDocuments, sha256 } from '../../src/security/trustedDocuments.js';

const manifestPath = 'client/generated/persisted-documents.json';
const canonicalHash = (document: string) => sha256(canonicalPrint(parse(document)));

/** The documents src/web/board.js sends, built by its own code (the part that defines them). */
async function boardDocuments(): Promise<string[]> {
  const source = await readFile('src/web/board.js', 'utf8');
  const start = source.indexOf('const orderFields');
  const end = source.indexOf('const state = {');
  expect(start, 'board.js defines orderFields').toBeGreaterThan(0);
  expect(end, 'board.js defines state after its documents').toBeGreaterThan(start);
  const build = new Function('uid', `${source.slice(start, end)}; return [...Object.values(documents), create, ...actions.map((action) => action.doc)];`);
  return build(() => '') as string[];
}

describe('given the manifest `npm run codegen` writes', () => {
  it('lists every document under the sha256 of its text', async () => {
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as Record<string, string>;
    expect(Object.keys(manifest).length).toBeGreaterThan(10);
    for (const [hash, document] of Object.entries(manifest)) expect(sha256(document)).toBe(hash);
  });

  it("trusts every operation the board sends, in the board's own spelling", async () => {
    const trusted = await loadTrustedDocuments(manifestPath);
    const documents = await boardDocuments();
    expect(documents).toHaveLength(11);
    for (const document of documents) expect(trusted.canonical.has(canonicalHash(document)), document).toBe(true);
  });
});

describe('when a document differs from a listed one', () => {
  const listed = 'query Q($id: ID!) { order(id: $id) { id status } }';
  it('matches regardless of spacing, field order and __typename', () => {
    expect(canonicalHash('query Q($id: ID!) {\n  order(id: $id) { __typename status\n id }\n}')).toBe(canonicalHash(listed));
  });
  it('does not match with a field, an argument or a name changed', () => {
    for (const other of ['query Q($id: ID!) { order(id: $id) { id status userId } }', 'query Q($id: ID!) { order(id: $id, minVersion: 1) { id status } }', 'query R($id: ID!) { order(id: $id) { id status } }'])
      expect(canonicalHash(other), other).not.toBe(canonicalHash(listed));
  });
});

describe('when TRUSTED_DOCUMENTS names a file that is not a manifest', () => {
  it('fails with a message naming the variable', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'trusted-'));
    const cases: [string, string][] = [
      ['missing.json', ''],
      ['array.json', '[]'],
      ['badkey.json', JSON.stringify({ abc: '{ __typename }' })],
      ['notjson.json', '{'],
      ['notgraphql.json', JSON.stringify({ [sha256('{')]: '{' })],
    ];
    for (const [name, content] of cases) {
      const file = path.join(dir, name);
      if (content) await writeFile(file, content);
      await expect(loadTrustedDocuments(file), name).rejects.toThrow(/TRUSTED_DOCUMENTS=/);
    }
  });
});
