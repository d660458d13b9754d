import { formatPlatform } from '../../image/platform.js';
import type { ResolvedImage } from '../../image/types.js';
import { withImage, writeOut, type CommandSpec } from '../command-spec.js';

/** The `inspect --json` document. */
export interface InspectJson {
  reference: string;
  digest: string;
  mediaType: string;
  /** The index the platform manifest was picked from, when the reference named one. */
  indexDigest?: string;
  platform: { os: string; architecture: string; variant?: string };
  config: { digest: string; mediaType: string; size: number };
  layers: Array<{ digest: string; mediaType: string; size: number }>;
}

/** Builds the `inspect --json` document of a resolved image. */
export function inspectJson(image: ResolvedImage): InspectJson {
  const out: InspectJson = {
    reference: image.reference,
    digest: image.digest,
    mediaType: image.mediaType,
    platform: { ...image.platform },
    config: { digest: image.manifest.config.digest, mediaType: image.manifest.config.mediaType, size: image.manifest.config.size },
    layers: image.layers.map((l) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size })),
  };
  if (image.indexDigest !== undefined) out.indexDigest = image.indexDigest;
  return out;
}

function inspectText(j: InspectJson): string {
  const lines = [
    `reference:  ${j.reference}`,
    `digest:     ${j.digest}`,
    `media type: ${j.mediaType}`,
    ...(j.indexDigest === undefined ? [] : [`index:      ${j.indexDigest}`]),
    `platform:   ${formatPlatform(j.platform)}`,
    `config:     ${j.config.digest} ${j.config.size}`,
    `layers:     ${j.layers.length}`,
    ...j.layers.map((l) => `  ${l.digest}  ${l.mediaType}  ${l.size}`),
  ];
  return `${lines.join('\n')}\n`;
}

/** `imagefs inspect REF`. */
export const inspectCommand: CommandSpec = {
  name: 'inspect',
  args: ['REF'],
  summary: 'resolve REF and print its digest, media type, platform and layers',
  details: 'Resolves REF to one platform manifest (see --platform) after verifying the manifest and config digests, and prints the manifest digest, its media type, the index digest when REF named an index, the platform, the config, and every layer (digest, media type, size in bytes). Nothing is downloaded but the manifests and the config. With --json: one JSON object {reference, digest, mediaType, indexDigest?, platform: {os, architecture, variant?}, config: {digest, mediaType, size}, layers: [{digest, mediaType, size}]}.',
  options: [],
  async run(ctx) {
    const doc = await withImage(ctx, ctx.args[0]!, async (image) => inspectJson(image.resolved));
    await writeOut(ctx.io.stdout, ctx.global.json ? `${JSON.stringify(doc, null, 2)}\n` : inspectText(doc));
    return 0;
  },
};
