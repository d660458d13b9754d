/**
 * What the merge skipped or changed on purpose, and why. The merge never fails on a strange
 * entry unless asked to ({@link MergeOptions.strict}): it takes the safe choice documented for
 * each code and records one of these.
 */
export type MergeWarningCode =
  /** The entry's path has a `..` component, a NUL byte, or an empty name: skipped. */
  | 'UNSAFE_PATH'
  /** A hardlink's target has a `..` component or a NUL byte: the hardlink is skipped. */
  | 'UNSAFE_LINK_TARGET'
  /** A hardlink's target is not in the merged tree (yet): the hardlink is skipped. */
  | 'HARDLINK_TARGET_MISSING'
  /** A hardlink's target is a directory: the hardlink is skipped. */
  | 'HARDLINK_TO_DIRECTORY'
  /** A parent of the entry was a non-directory (for instance a symlink): it was replaced by a directory, never followed. */
  | 'PARENT_NOT_DIRECTORY'
  /** The root entry of a layer is not a directory: skipped. */
  | 'ROOT_NOT_DIRECTORY'
  /** A `.wh..wh.*` meta whiteout other than the opaque marker (AUFS `plnk` and the like): skipped. */
  | 'UNSUPPORTED_WHITEOUT'
  /** A name longer than the merged tree can hold (65,535 bytes): skipped. */
  | 'NAME_TOO_LONG';

/** One thing the merge skipped or changed; see {@link MergeWarningCode}. */
export interface MergeWarning {
  /** What happened. */
  code: MergeWarningCode;
  /** Index of the layer (0 = base). */
  layer: number;
  /** The entry's path as the tar gave it. */
  path: string;
  /** One sentence for humans. */
  message: string;
}

/** How many warnings a merge keeps; later ones are only counted. */
export const MAX_KEPT_WARNINGS = 1000;
