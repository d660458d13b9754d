import { defineConfig } from 'tsup';

export default defineConfig([
  {
    // The library: ESM first, CJS too, types for both. p-limit is ESM-only, so it is bundled.
    entry: { index: 'src/index.ts', 'testing/index': 'src/testing/index.ts', 'fuse/index': 'src/fuse/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    noExternal: ['p-limit', 'yocto-queue'],
  },
  {
    entry: { 'cli/main': 'src/cli/main.ts' },
    format: ['esm'],
    sourcemap: true,
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
  },
]);
