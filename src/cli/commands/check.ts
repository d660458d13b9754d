import { DiskCache } from '../../cache/disk-cache.js';
import { analyzeEligibility } from '../../eligibility/analyze.js';
import type { ImageSource, Platform } from '../../image/types.js';
import { IndexStore } from '../../index-store/index-store.js';
import { BlobCacheIndexCache } from '../../index-store/local-index-cache.js';
import { openSource } from '../../open/open-source.js';
import { RegistrySource } from '../../registry/registry-source.js';
import { isEstargzLayer } from '../../estargz/estargz-layer.js';
import { isZstdChunkedLayer } from '../../zstd-chunked/zstd-chunked-layer.js';
import type { EligibilityReason, EligibilityReport } from '../../eligibility/report.js';
import { writeOut, type CommandSpec } from '../command-spec.js';
import { registryOptions } from '../open.js';

/** The `check --json` document: the contract's fields, plus `fix`, `position` and `informational` per reason, and `index` per lazy layer. */
export interface CheckJson {
  /** True when every reason is informational. */
  eligible: boolean;
  /** Every reason, problems and notes, in manifest order (image-wide ones last). */
  reasons: Array<{ code: string; message: string; fix: string; informational: boolean; layer?: string; position?: number }>;
  /** How each layer would be served, base first (size in bytes, compressed). */
  layers: Array<{ digest: string; mediaType: string; size: number; mode: 'lazy' | 'whole'; index?: IndexState }>;
}

/**
 * For a lazy layer: whether an imagefs index is stored for it (in the registry next to the image,
 * or in the local cache), or whether it needs none (`own-toc`: eStargz and zstd:chunked layers
 * carry their own table of contents). Without one, `openImage` pulls the layer whole.
 */
export type IndexState = 'stored' | 'missing' | 'own-toc';

/** Builds the `check --json` document of a report. */
export function checkJson(report: EligibilityReport, indexes: ReadonlyMap<string, IndexState> = new Map()): CheckJson {
  return {
    eligible: report.eligible,
    reasons: report.reasons.map((r) => ({
      code: r.code,
      message: r.message,
      fix: r.fix,
      informational: r.informational,
      ...(r.layer === undefined ? {} : { layer: r.layer }),
      ...(r.position === undefined ? {} : { position: r.position }),
    })),
    layers: report.layers.map((l) => {
      const index = indexes.get(l.digest);
      return { digest: l.digest, mediaType: l.mediaType, size: l.size, mode: l.mode, ...(index === undefined ? {} : { index }) };
    }),
  };
}

/** Reasons that stop imagefs from serving the image at all, even whole. */
const UNSERVABLE = new Set(['ENCRYPTED_LAYER', 'UNSUPPORTED_MEDIA_TYPE']);

function reasonLines(r: EligibilityReason, bullet: string): string[] {
  const where = r.layer === undefined ? 'the whole image' : `layer ${r.position ?? '?'} (${r.layer})`;
  return [`${bullet} ${r.code}: ${where}`, `     found: ${r.message}`, `     fix:   ${r.fix}`];
}

/**
 * The report as a troubleshooting guide: the verdict first, then each problem that makes the
 * image ineligible (with the layer, its position and the fix), then the notes that only say how
 * some layers are served, then the plan per layer.
 */
export function checkText(ref: string, report: EligibilityReport, indexes: ReadonlyMap<string, IndexState> = new Map()): string {
  const problems = report.reasons.filter((r) => !r.informational);
  const notes = report.reasons.filter((r) => r.informational);
  const lazy = report.layers.filter((l) => l.mode === 'lazy').length;
  const lines: string[] = [`image: ${ref}`];
  if (report.eligible) {
    lines.push(`verdict: ELIGIBLE for lazy streaming: ${lazy} of ${report.layers.length} layers stream lazily${lazy < report.layers.length ? `, ${report.layers.length - lazy} are pulled whole (see the notes)` : ''}`);
  } else {
    const blocking = problems.filter((r) => UNSERVABLE.has(r.code)).map((r) => r.code);
    lines.push(`verdict: NOT ELIGIBLE for lazy streaming: ${problems.length} problem${problems.length === 1 ? '' : 's'} below. ${blocking.length > 0
      ? `imagefs cannot serve this image at all until ${[...new Set(blocking)].join(' and ')} ${blocking.length === 1 ? 'is' : 'are'} fixed.`
      : 'imagefs still serves the image: the layers marked "whole" are downloaded whole and verified first.'}`);
  }
  if (problems.length > 0) {
    lines.push('', 'problems (each makes the image ineligible; fix them to stream it):');
    problems.forEach((r, i) => lines.push(...reasonLines(r, `  ${i + 1}.`)));
  }
  if (notes.length > 0) {
    lines.push('', 'notes (the image stays eligible; these layers are pulled whole):');
    notes.forEach((r) => lines.push(...reasonLines(r, '  -')));
  }
  const missing = report.layers.filter((l) => indexes.get(l.digest) === 'missing').length;
  if (missing > 0) {
    lines.push('', `index: ${missing} lazy layer${missing === 1 ? ' has' : 's have'} no stored imagefs index yet; until one is built they are pulled whole.`,
      `  fix:   run 'imagefs index --push ${ref}' once (or open with indexing: 'on-the-fly')`);
  }
  lines.push('', 'layers (base first):');
  report.layers.forEach((l, i) => {
    const index = indexes.get(l.digest);
    const note = index === undefined ? '' : index === 'stored' ? '  (index stored)' : index === 'own-toc' ? '  (own table of contents)' : '  (no index yet)';
    lines.push(`  ${String(i).padStart(2)}  ${l.mode.padEnd(5)}  ${l.digest}  ${l.mediaType}  ${l.size} bytes${note}`);
  });
  if (report.layers.length === 0) lines.push('  (none analysed)');
  return `${lines.join('\n')}\n`;
}

/** `imagefs check REF`. */
export const checkCommand: CommandSpec = {
  name: 'check',
  args: ['REF'],
  summary: 'tell whether REF is eligible for lazy streaming, with every reason and its fix',
  details: 'Reads the manifest and the config, and sends at most one 1-byte Range request to the registry (plus a 64-byte read of the end of zstd layers without zstd:chunked annotations), then prints the verdict, every problem and note with its layer, position and fix, and how each layer would be served (lazy or whole). Problems (SCHEMA1_MANIFEST, DUPLICATE_LAYER, EMPTY_LAYER, ENCRYPTED_LAYER, RANGE_UNSUPPORTED, UNSUPPORTED_MEDIA_TYPE) make the image ineligible; notes (SMALL_LAYER, NOT_SEEKABLE, NON_DISTRIBUTABLE_LAYER) only mark layers whole. Exit 0 when eligible, 3 when not (the report is still printed). For each lazy layer it also says whether an imagefs index is stored (in --cache or next to the image in the registry) and, if not, the command that builds one. With --json: {eligible, reasons: [{code, message, fix, informational, layer?, position?}], layers: [{digest, mediaType, size, mode: "lazy"|"whole", index?: "stored"|"missing"|"own-toc"}]}.',
  options: [],
  async run(ctx) {
    const ref = ctx.args[0]!;
    const source = openSource(ref, registryOptions(ctx.global));
    try {
      const signal = ctx.signal === undefined ? {} : { signal: ctx.signal };
      const report = await analyzeEligibility(source, {
        ...(ctx.global.platform === undefined ? {} : { platform: ctx.global.platform }),
        ...signal,
      });
      const indexes = await storedIndexes(source, report, ctx.global.cacheDir, ctx.global.platform, ctx.signal);
      await writeOut(ctx.io.stdout, ctx.global.json ? `${JSON.stringify(checkJson(report, indexes), null, 2)}\n` : checkText(ref, report, indexes));
      return report.eligible ? 0 : 3;
    } finally {
      await source.close();
    }
  },
};

/** Looks up a stored index for every lazy layer: the local cache (`--cache`), then the registry's referrers. */
async function storedIndexes(
  source: ImageSource,
  report: EligibilityReport,
  cacheDir: string | undefined,
  platform: Platform | undefined,
  signal: AbortSignal | undefined,
): Promise<Map<string, IndexState>> {
  const states = new Map<string, IndexState>();
  const lazy = report.layers.filter((l) => l.mode === 'lazy');
  if (lazy.length === 0) return states;
  const cache = cacheDir === undefined ? undefined : await DiskCache.open(cacheDir).catch(() => undefined);
  try {
    const image = await source.resolve({ ...(platform === undefined ? {} : { platform }), ...(signal === undefined ? {} : { signal }) });
    const store = new IndexStore({
      ...(cache === undefined ? {} : { cache: new BlobCacheIndexCache(cache) }),
      ...(source instanceof RegistrySource ? { registry: source } : {}),
    });
    for (const layer of image.layers) {
      if (!lazy.some((l) => l.digest === layer.digest)) continue;
      if (isEstargzLayer(layer) || isZstdChunkedLayer(layer)) {
        states.set(layer.digest, 'own-toc');
        continue;
      }
      const found = await store.find(image, layer, signal === undefined ? {} : { signal });
      states.set(layer.digest, found === undefined ? 'missing' : 'stored');
    }
  } finally {
    await cache?.close();
  }
  return states;
}
