import { ImageError } from '../errors/image-fs-error.js';
import type { Descriptor, Platform } from './types.js';

const NODE_TO_OCI_ARCH: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

/** The platform of this host, as OCI names it (`linux/amd64`). */
export function hostPlatform(): Platform {
  return { os: 'linux', architecture: NODE_TO_OCI_ARCH[process.arch] ?? process.arch };
}

/** Parses `OS/ARCH[/VARIANT]`. Throws InvalidArgument on anything else. */
export function parsePlatform(text: string): Platform {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
    throw new ImageError('InvalidArgument', `platform '${text}' is not OS/ARCH[/VARIANT]`, { hint: 'write it like linux/amd64 or linux/arm64/v8' });
  }
  const [os, architecture, variant] = parts as [string, string, string?];
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

/** Formats a platform as `OS/ARCH[/VARIANT]`. */
export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

function normalisedVariant(p: Platform): string | undefined {
  if (p.architecture === 'arm64') return p.variant === undefined || p.variant === 'v8' ? undefined : p.variant;
  return p.variant;
}

/** True when `candidate` satisfies `wanted` (a missing wanted variant accepts any). */
export function platformMatches(candidate: Platform, wanted: Platform): boolean {
  if (candidate.os !== wanted.os || candidate.architecture !== wanted.architecture) return false;
  const want = normalisedVariant(wanted);
  return want === undefined || normalisedVariant(candidate) === want;
}

/**
 * Picks the manifest for `wanted` from an index's descriptors, skipping attestations and other
 * non-image entries. Throws NotFound listing the platforms the index has.
 */
export function selectPlatform(manifests: Descriptor[], wanted: Platform, where: string): Descriptor {
  const images = manifests.filter((d) => d.platform !== undefined && d.platform.os !== 'unknown');
  const match = images.find((d) => platformMatches(d.platform!, wanted));
  if (match) return match;
  const have = images.map((d) => formatPlatform(d.platform!)).join(', ') || 'none';
  throw new ImageError('NotFound', `${where} has no image for platform ${formatPlatform(wanted)} (it has: ${have})`, {
    subject: where,
    hint: 'choose one of the listed platforms with --platform',
  });
}
