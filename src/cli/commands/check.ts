import { analyzeEligibility } from '../../eligibility/analyze.js';
import type { EligibilityReason, EligibilityReport } from '../../eligibility/report.js';
import { writeOut, type CommandSpec } from '../command-spec.js';
import { registryOptions } from '../open.js';

/** The `check --json` document: the contract's fields, plus `fix`, `position` and `informational` per reason. */
export interface CheckJson {
  /** True when every reason is informational. */
  eligible: boolean;
  /** Every reason, problems and notes, in manifest order (image-wide ones last). */
  reasons: Array<{ code: string; message: string; fix: string; informational: boolean; layer?: string; position?: number }>;
  /** How each layer would be served, base first (size in bytes, compressed). */
  layers: Array<{ digest: string; mediaType: string; size: number; mode: 'lazy' | 'whole' }>;
}

/** Builds the `check --json` document of a report. */
export function checkJson(report: EligibilityReport): CheckJson {
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
    layers: report.layers.map((l) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size, mode: l.mode })),
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
export function checkText(ref: string, report: EligibilityReport): string {
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
  lines.push('', 'layers (base first):');
  report.layers.forEach((l, i) => lines.push(`  ${String(i).padStart(2)}  ${l.mode.padEnd(5)}  ${l.digest}  ${l.mediaType}  ${l.size} bytes`));
  if (report.layers.length === 0) lines.push('  (none analysed)');
  return `${lines.join('\n')}\n`;
}

/** `imagefs check REF`. */
export const checkCommand: CommandSpec = {
  name: 'check',
  args: ['REF'],
  summary: 'tell whether REF is eligible for lazy streaming, with every reason and its fix',
  details: 'Reads the manifest and the config, and sends at most one 1-byte Range request to the registry (plus a 64-byte read of the end of zstd layers without zstd:chunked annotations), then prints the verdict, every problem and note with its layer, position and fix, and how each layer would be served (lazy or whole). Problems (SCHEMA1_MANIFEST, DUPLICATE_LAYER, EMPTY_LAYER, ENCRYPTED_LAYER, RANGE_UNSUPPORTED, UNSUPPORTED_MEDIA_TYPE) make the image ineligible; notes (SMALL_LAYER, NOT_SEEKABLE, NON_DISTRIBUTABLE_LAYER) only mark layers whole. Exit 0 when eligible, 3 when not (the report is still printed). With --json: {eligible, reasons: [{code, message, fix, informational, layer?, position?}], layers: [{digest, mediaType, size, mode: "lazy"|"whole"}]}.',
  options: [],
  async run(ctx) {
    const ref = ctx.args[0]!;
    const report = await analyzeEligibility(ref, {
      ...registryOptions(ctx.global),
      ...(ctx.global.platform === undefined ? {} : { platform: ctx.global.platform }),
      ...(ctx.signal === undefined ? {} : { signal: ctx.signal }),
    });
    await writeOut(ctx.io.stdout, ctx.global.json ? `${JSON.stringify(checkJson(report), null, 2)}\n` : checkText(ref, report));
    return report.eligible ? 0 : 3;
  },
};
