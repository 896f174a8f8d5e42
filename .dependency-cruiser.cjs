// Dependencies point inward: domain <- commands/projectors/queries/readModels <- schema/infrastructure <- main.
// `npm run depcheck` (part of `npm test`) fails on any rule below. Type-only imports count too: a type
// import is still a dependency a reader has to follow.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import circle: modules that cannot be read, tested or loaded one without the other.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'domain-is-pure',
      severity: 'error',
      comment: 'The domain imports nothing of ours but itself.',
      from: { path: '^src/domain/' },
      to: { path: '^src/', pathNot: '^src/domain/' },
    },
    {
      name: 'ports-know-only-the-domain',
      severity: 'error',
      comment: 'ports.ts is what the core asks of the world: it may name domain types, nothing else of ours.',
      from: { path: '^src/ports\\.ts$' },
      to: { path: '^src/', pathNot: ['^src/domain/', '^src/ports\\.ts$'] },
    },
    {
      name: 'core-knows-no-adapters',
      severity: 'error',
      comment: 'Commands, projectors, queries and read models see the world through ports.ts, never through an adapter, the schema or the composition root.',
      from: { path: '^src/(commands|projectors|queries|readModels)/', pathNot: '^src/readModels/[^/]+/schema\\.ts$' },
      to: { path: ['^src/(schema|infrastructure)/', '^src/(server|main|service)\\.ts$'] },
    },
    {
      name: 'slice-schema-uses-only-the-builder',
      severity: 'error',
      comment:
        "A read model's schema.ts adds its GraphQL types to the one Pothos builder: from src/schema it may use the builder, the context and the shared types, nothing else; and no adapter, server or main.",
      from: { path: '^src/readModels/[^/]+/schema\\.ts$' },
      to: { path: ['^src/schema/', '^src/infrastructure/', '^src/(server|main|service)\\.ts$'], pathNot: '^src/schema/(builder|context|shared)\\.ts$' },
    },
    {
      name: 'slice-schema-loaded-by-the-schema-only',
      severity: 'error',
      comment: "Only the GraphQL layer (through the registry's loader) reaches a slice's schema.ts, so a projector process never loads Pothos.",
      from: { path: '^src/', pathNot: ['^src/readModels/index\\.ts$', '^src/readModels/[^/]+/schema\\.ts$', '^src/schema/'] },
      to: { path: '^src/readModels/[^/]+/schema\\.ts$' },
    },
    {
      name: 'adapters-know-no-features',
      severity: 'error',
      comment: 'Adapters implement ports; they never reach into a feature folder.',
      from: { path: '^src/infrastructure/' },
      to: { path: '^src/(commands|projectors|queries|readModels|schema)/' },
    },
    {
      name: 'queries-skip-the-projector-runtime',
      severity: 'error',
      comment: 'The query side reads what projections wrote; it needs the read models, not the machinery that runs them.',
      from: { path: '^src/queries/' },
      to: { path: '^src/projectors/' },
    },
    {
      name: 'read-models-skip-the-projector-runtime',
      severity: 'error',
      comment: 'A slice is pure: the generic runtime imports the registry, never the other way round.',
      from: { path: '^src/readModels/' },
      to: { path: '^src/projectors/' },
    },
    {
      name: 'generic-runtime-knows-no-slice',
      severity: 'error',
      comment: 'The runtime reaches read models through the registry (src/readModels/index.ts) only.',
      from: { path: '^src/projectors/' },
      to: { path: '^src/readModels/[^/]+/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/generated/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs', '.json'] },
  },
};
