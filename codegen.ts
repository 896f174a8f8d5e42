import type { CodegenConfig } from '@graphql-codegen/cli';
import { sha256, withTypename } from './src/security/trustedDocuments.js';

// schema.graphql is printed from the Pothos schema (scripts/print-schema.ts); the operations clients
// and the end-to-end tests use are typed from it. `npm run codegen` does both; a test fails on drift.
// It also writes client/generated/persisted-documents.json, the manifest TRUSTED_DOCUMENTS serves:
// { "<sha256 hex of the canonical print>": "<canonical print>" }, with __typename in every selection
// so that normalised caches (Apollo, urql) get what they would have added themselves. The service
// canonicalises full documents with the same functions (src/security/trustedDocuments.ts).
const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['client/operations/**/*.graphql'],
  ignoreNoDocuments: false,
  generates: {
    'client/generated/': {
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
  },
};

export default config;
