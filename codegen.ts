import type { CodegenConfig } from '@graphql-codegen/cli';

// schema.graphql is printed from the Pothos schema (scripts/print-schema.ts); the operations clients
// and the end-to-end tests use are typed from it. `npm run codegen` does both; a test fails on drift.
const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['client/operations/**/*.graphql'],
  ignoreNoDocuments: false,
  generates: {
    'client/generated/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        scalars: { DateTime: 'string' },
        enumsAsTypes: true,
        useTypeImports: true,
        skipTypename: true,
      },
    },
  },
};

export default config;
