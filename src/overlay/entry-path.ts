/** The prefix of a whiteout file's name (`.wh.NAME` hides NAME of lower layers). */
export const WHITEOUT_PREFIX = '.wh.';
/** The prefix of whiteout meta files (`.wh..wh.*`). */
export const WHITEOUT_META_PREFIX = '.wh..wh.';
/** The name of the opaque marker: hides every lower child of its directory. */
export const WHITEOUT_OPAQUE = '.wh..wh..opq';

/**
 * Splits a tar path into its components, defensively normalised: leading `/` and `./`, empty and
 * `.` components go away. Returns `null` for a path that must never be applied: one with a `..`
 * component or a NUL byte. The root is `[]`.
 *
 * @example
 * ```ts
 * splitEntryPath('./usr//bin/'); // ['usr', 'bin']
 * splitEntryPath('a/../../etc'); // null
 * ```
 */
export function splitEntryPath(path: string): string[] | null {
  if (path.includes('\0')) return null;
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') return null;
    out.push(part);
  }
  return out;
}

/** What a tar entry's last component says about whiteouts. */
export type WhiteoutKind =
  | {
      /** An ordinary name. */
      kind: 'none';
    }
  | {
      /** The opaque marker `.wh..wh..opq`. */
      kind: 'opaque';
    }
  | {
      /** A whiteout `.wh.NAME`. */
      kind: 'whiteout';
      /** The hidden name. */
      name: string;
    }
  | {
      /** Another `.wh..wh.*` meta file, or a whiteout of nothing. */
      kind: 'meta';
    };

/**
 * Classifies a name: the opaque marker, a whiteout of `name`, another meta whiteout, or an
 * ordinary name. A `.wh.` whose hidden name is empty, `.` or `..` counts as `meta` (unsupported).
 */
export function classifyWhiteout(name: string): WhiteoutKind {
  if (!name.startsWith(WHITEOUT_PREFIX)) return { kind: 'none' };
  if (name === WHITEOUT_OPAQUE) return { kind: 'opaque' };
  if (name.startsWith(WHITEOUT_META_PREFIX)) return { kind: 'meta' };
  const hidden = name.slice(WHITEOUT_PREFIX.length);
  if (hidden === '' || hidden === '.' || hidden === '..') return { kind: 'meta' };
  return { kind: 'whiteout', name: hidden };
}
