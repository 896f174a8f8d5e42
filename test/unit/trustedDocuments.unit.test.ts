import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { canonicalPrint, loadTrustedDocuments, sha256 } from '../../src/security/trustedDocuments.js';

const manifestPath = 'client/generated/persisted-documents.json';
const canonicalHash = (document: string) => sha256(canonicalPrint(parse(document)));

/** The documents the board sends: src/web/operations.js, written by `npm run codegen` (plain JavaScript). */
async function boardOperations(): Promise<Record<string, string>> {
  return (await import(pathToFileURL('src/web/operations.js').href)) as Record<string, string>;
}

describe('given the manifest `npm run codegen` writes', () => {
  it('lists every document under the sha256 of its text', async () => {
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as Record<string, string>;
    expect(Object.keys(manifest).length).toBeGreaterThan(10);
    for (const [hash, document] of Object.entries(manifest)) expect(sha256(document)).toBe(hash);
  });

  it('lists every operation the board sends, in the very text the board sends', async () => {
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as Record<string, string>;
    const operations = Object.entries(await boardOperations());
    expect(operations.map(([name]) => name).sort()).toEqual(
      ['BoardCancel', 'BoardCommand', 'BoardConfirm', 'BoardCreate', 'BoardDeliver', 'BoardHealth', 'BoardMyOrders', 'BoardOrder', 'BoardOrders', 'BoardPay', 'BoardShip'],
    );
    for (const [name, document] of operations) expect(manifest[sha256(document)], name).toBe(document);
  });

  it('leaves the board no GraphQL of its own: board.js imports its operations', async () => {
    const source = await readFile('src/web/board.js', 'utf8');
    expect(source).toMatch(/^import \{[^}]*\bBoardOrders\b[^}]*\} from '\.\/operations\.js';$/m);
    expect(source).not.toMatch(/\b(query|mutation|subscription)\s+Board\w*\s*[({]|\bfragment\s+\w+\s+on\b/);
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
