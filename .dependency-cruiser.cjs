/**
 * The module rules of docs/architecture.md, checked by `npm run lint:deps` (part of `npm test`).
 * Data flows downstream: cli/server → bundle → indexing → operations → plan → engine → arrow;
 * manifest and storage sit beside; errors.ts is shared by all.
 */
const LAYERS = ['cli|server', 'bundle', 'indexing', 'operations', 'plan', 'engine', 'arrow'];

/** A module in layer i may not import one in an earlier (upstream) layer. */
const upstreamRules = LAYERS.flatMap((layer, i) =>
  LAYERS.slice(0, i).map((upstream) => ({
    name: `downstream-only:${layer.replace('|', '-')}->${upstream.replace('|', '-')}`,
    comment: `src/${layer} is downstream of src/${upstream}: it must not import it`,
    severity: 'error',
    from: { path: `^src/(${layer})/` },
    to: { path: `^src/(${upstream})/` },
  })),
);

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Import cycles make modules impossible to read, test or load in isolation (type-only imports count too)',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-package-root-inside',
      comment: 'src/index.ts is the public entry point: nothing inside imports it',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/index\\.ts$' },
      to: { path: '^src/index\\.ts$' },
    },
    {
      name: 'duckdb-only-in-engine',
      comment: 'Only src/engine talks to DuckDB (docs/architecture.md: the sealed engine)',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/engine/' },
      to: { path: '@duckdb/' },
    },
    {
      name: 'manifest-storage-beside',
      comment: 'Manifests, storage and the statement grammar sit beside the flow: they never import it',
      severity: 'error',
      from: { path: '^src/(manifest|storage|language)/' },
      to: { path: '^src/(cli|server|bundle|indexing|operations|plan|engine|arrow)/' },
    },
    ...upstreamRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    parser: 'swc',
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
