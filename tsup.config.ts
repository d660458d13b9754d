import { defineConfig } from 'tsup';

/** The CLI bundle's first lines: the shebang, and a `require` for bundled CommonJS dependencies. */
export const CLI_BANNER = "#!/usr/bin/env node\nimport { createRequire as __imagefsCreateRequire } from 'node:module'; const require = __imagefsCreateRequire(import.meta.url);";
/** A structural esbuild plugin (tsup passes it to esbuild). */
interface BuildPlugin {
  name: string;
  setup(build: {
    onResolve(options: { filter: RegExp }, callback: () => { path: string; namespace?: string }): void;
    onLoad(options: { filter: RegExp; namespace: string }, callback: () => { contents: string; loader: 'js' }): void;
  }): void;
}

/**
 * The CLI bundle's start-up trims (docs/fuse.md, "Start-up"): `import ... from 'undici'` gets the
 * Agent alone (src/cli/undici-agent.cjs; undici's index loads fetch, WebSocket and cookies, and
 * those load Node's own internal undici); `import { x } from 'node:process'` reads the global
 * `process` (an ESM import of the builtin evaluates every getter of `process`, `process.stdin`
 * included, which opens a socket or a TTY: 10-45 ms here).
 */
export const CLI_PLUGINS: BuildPlugin[] = [
  {
    name: 'imagefs-cli-undici-agent',
    setup(build) {
      build.onResolve({ filter: /^undici$/ }, () => ({ path: new URL('./src/cli/undici-agent.cjs', import.meta.url).pathname }));
    },
  },
  {
    name: 'imagefs-cli-global-process',
    setup(build) {
      build.onResolve({ filter: /^(node:)?process$/ }, () => ({ path: 'process', namespace: 'imagefs-global-process' }));
      build.onLoad({ filter: /.*/, namespace: 'imagefs-global-process' }, () => ({ contents: 'module.exports = process;', loader: 'js' }));
    },
  },
];

export default defineConfig([
  {
    // The library: ESM first, CJS too, types for both. p-limit is ESM-only, so it is bundled.
    entry: { index: 'src/index.ts', 'testing/index': 'src/testing/index.ts', 'fuse/index': 'src/fuse/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    // No source maps in the package: they doubled its size (6.2 MB of 9.6 MB in dist/).
    sourcemap: false,
    clean: true,
    target: 'node20',
    noExternal: ['p-limit', 'yocto-queue'],
  },
  {
    // The CLI: one self-contained file, dependencies bundled (resolving and wrapping a hundred
    // CommonJS files from node_modules at each start costs more than compiling them inline), and
    // trimmed by CLI_PLUGINS. `require` is defined for the bundled CommonJS code. Measured in
    // docs/fuse.md ("Start-up").
    entry: { 'cli/main': 'src/cli/main.ts' },
    format: ['esm'],
    sourcemap: false,
    target: 'node20',
    noExternal: [/.*/],
    esbuildPlugins: CLI_PLUGINS,
    banner: { js: CLI_BANNER },
  },
]);
