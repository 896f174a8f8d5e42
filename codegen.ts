import type { CodegenConfig } from '@graphql-codegen/cli';
import { boardOperations } from './scripts/codegen-board.js';
import { sha256, withTypename } from './src/security/trustedDocuments.js';

// schema.graphql is printed from the Pothos schema (scripts/print-schema.ts); the operations clients
// and the end-to-end tests use are typed from it. `npm run codegen` does both; a test fails on drift.
// It also writes client/generated/persisted-documents.json, the manifest TRUSTED_DOCUMENTS serves:
// { "<sha256 hex of the canonical print>": "<canonical print>" }, with __typename in every selection
// so that normalised caches (Apollo, urql) get what they would have added themselves. The service
// canonicalises full documents with the same functions (src/security/trustedDocuments.ts).
// The order board (plain JavaScript, no build step) imports its operations from src/web/operations.js,
// written here from client/operations/board.graphql and typed with client/generated/graphql.ts.
const config: CodegenConfig = {
  // The board's plugin lives in this repository. Codegen asks for `@graphql-codegen/<name>` first, so the
  // suffix matches before any package is looked up; every other name loads as a package, as by default.
  pluginLoader: (name) => (name.endsWith('board-operations') ? boardOperations : import(name)),
  schema: 'schema.graphql',
  ignoreNoDocuments: false,
  generates: {
    'client/generated/': {
      documents: ['client/operations/**/*.graphql'],
      preset: 'client',
      presetConfig: {
        fragmentMasking: false,
        persistedDocuments: { hashAlgorithm: sha256 },
      },
      documentTransforms: [{ transform: ({ documents }) => documents.map((source) => ({ ...source, document: source.document && withTypename(source.document) })) }],
      config: {
        scalars: { DateTime: 'string', JSON: 'unknown' },
        enumsAsTypes: true,
        useTypeImports: true,
        skipTypename: true,
      },
    },
    'src/web/operations.js': {
      documents: ['client/operations/board.graphql'],
      plugins: ['board-operations'],
      config: { types: '../../client/generated/graphql.js' },
    },
  },
};

export default config;
