// Dependency rules checked by `npm run lint` (depcruise): the parts of the tree import each
// other in one direction only, so the cycles issue 13 removed cannot come back. What is checked
// is the code that ships or starts it (apps, activities, workflows, store, domain, lib, contract,
// devstack, scripts); tests (*.test.ts beside the code, test/, bench/) are cross-part by design and
// are not cruised, but runtime code importing them is caught (they stay in the graph as leaves).
/** Runtime code: everything the control-plane processes and the agents load. */
const RUNTIME = '^(apps|activities|workflows|store|domain|lib|contract)/';
/** The processes' entry points. */
const ENTRY_POINTS = [
  '^apps/control-plane/src/[a-z-]+-main\\.ts$',
  '^apps/host-manager/src/main\\.ts$',
  '^apps/local-cloud/src/main\\.ts$',
];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycle between modules (type-only imports included).',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-folder-cycle',
      severity: 'error',
      comment: 'No cycle between folders either: a folder that imports another is never imported back by it.',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
    {
      name: 'api-not-worker',
      severity: 'error',
      comment: 'The API and the worker do not know each other; apps/control-plane wires both.',
      from: { path: '^apps/api/' },
      to: { path: '^apps/worker/' },
    },
    {
      name: 'worker-not-api',
      severity: 'error',
      comment: 'The API and the worker do not know each other; apps/control-plane wires both.',
      from: { path: '^apps/worker/' },
      to: { path: '^apps/api/' },
    },
    {
      name: 'composition-root-on-top',
      severity: 'error',
      comment: 'apps/control-plane imports the apps; nothing but tests imports it.',
      from: { path: '^apps/', pathNot: '^apps/control-plane/' },
      to: { path: '^apps/control-plane/' },
    },
    {
      name: 'local-cloud-not-devstack',
      severity: 'error',
      comment: 'The local cloud is started by the dev stack, not the other way round (shared helpers live in lib/).',
      from: { path: '^apps/local-cloud/' },
      to: { path: '^devstack/' },
    },
    {
      name: 'activities-not-workflows',
      severity: 'error',
      comment: 'Activities and workflows share contract/temporal.ts; activities never import workflow code.',
      from: { path: '^activities/' },
      to: { path: '^workflows/' },
    },
    {
      name: 'workflows-deterministic-imports',
      severity: 'error',
      comment: 'Workflows are replayed: they import activities, the store, lib and apps only as types (see also eslint).',
      from: { path: '^workflows/' },
      to: { path: '^(activities|store|lib|apps)/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'runtime-not-tests',
      severity: 'error',
      comment: 'Runtime code never imports test/ or bench/ (unit tests beside the code may).',
      from: { path: RUNTIME },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'processes-not-build-tools',
      severity: 'error',
      comment:
        'A running process (API, worker, host-manager, local cloud) never loads scripts/ (set-up, generators), the dev stack, tests or benchmarks, however indirectly.',
      from: { path: ENTRY_POINTS },
      to: { path: '^(scripts|devstack|test|bench)/', reachable: true },
    },
    {
      name: 'scripts-are-leaves',
      severity: 'error',
      comment:
        'scripts/ (set-up, tool paths, proto folders) imports nothing of ours; the one entry that does, ' +
        'scripts/generate-openapi.ts (it runs the generator in apps/api/src/openapi), is left out of the cruise below.',
      from: { path: '^scripts/' },
      to: { path: '^(apps|activities|workflows|store|domain|lib|contract|devstack|test|bench)/' },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: ['node_modules', '^(test|bench)/'] },
    exclude: {
      path: [
        '(^|/)(node_modules|gen|coverage|\\.data|\\.test-data)/',
        '\\.test\\.ts$',
        // A build entry nothing imports (it cannot be in a cycle of modules); left in, its import of
        // the generator would make scripts/ and apps/api/src/openapi (which uses the leaf helpers
        // scripts/toolchain.mjs and proto-deps.mjs) look like a folder cycle.
        '^scripts/generate-openapi\\.ts$',
      ],
    },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.mts', '.js', '.mjs', '.cjs', '.json', '.d.ts'],
    },
  },
};
