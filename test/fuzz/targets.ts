// Every fuzz target, for scripts/fuzz.ts (`npm run fuzz`) and docs/reliability.md.
import type { FuzzTarget } from './harness.js';
import { fuseFrameTarget } from './fuse-targets.js';
import { gzipMutationTarget, indexMutationTarget } from './index-targets.js';
import { layoutManifestTarget, registryManifestTarget } from './manifest-targets.js';
import { paxGenerationTarget, tarMutationTarget } from './tar-targets.js';
import { estargzLayoutTarget, estargzTocTarget, zstdChunkedTocTarget } from './toc-targets.js';

/** All targets, in the order the runner reports them. */
export const ALL_TARGETS: FuzzTarget[] = [
  tarMutationTarget, paxGenerationTarget, gzipMutationTarget, indexMutationTarget, layoutManifestTarget, registryManifestTarget,
  estargzTocTarget, estargzLayoutTarget, zstdChunkedTocTarget, fuseFrameTarget,
] as FuzzTarget[];
