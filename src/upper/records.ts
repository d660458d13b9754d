import type { CreateSpec, NodeAttrs, SetAttrs, Timespec } from '../tree/types.js';

/**
 * One change of the upper layer, as the journal keeps it (JSON) and as `UpperTree` applies it.
 * Inode numbers and times are resolved before a record is written, so replaying the records in
 * order rebuilds the same tree.
 */
export type UpperRecord =
  | { op: 'create'; dir: number; name: string; ino: number; spec: CreateSpec; t: Timespec }
  | { op: 'link'; ino: number; dir: number; name: string; t: Timespec }
  | { op: 'unlink'; dir: number; name: string; t: Timespec }
  | { op: 'rename'; fromDir: number; fromName: string; toDir: number; toName: string; flags: number; t: Timespec }
  | { op: 'setattr'; ino: number; attrs: SetAttrsResolved; t: Timespec }
  | { op: 'setxattr'; ino: number; name: string; value: string; t: Timespec }
  | { op: 'removexattr'; ino: number; name: string; t: Timespec }
  | { op: 'write'; ino: number; position: number; length: number; t: Timespec }
  | SnapshotRecord;

/**
 * The whole upper at once, as compaction writes it (the journal's only record afterwards): every
 * inode the upper holds, its written extents pointing into the record's data (offsets from the
 * data's start, in order), and the inode counter.
 */
export interface SnapshotRecord {
  op: 'snapshot';
  /** The next new inode number. */
  nextIno: number;
  /** The inodes the upper holds. */
  nodes: SnapshotNode[];
}

/** One inode of a {@link SnapshotRecord}. */
export interface SnapshotNode {
  ino: number;
  attrs: NodeAttrs;
  /** Names and base64 values; null: the lower's. */
  xattrs: [string, string][] | null;
  target?: string;
  /** Written file data: size, how much of the lower file shows, and `[start, length, dataOffset]` extents. */
  content?: { size: number; baseLimit: number; base: boolean; extents: [number, number, number][] };
  /** A changed directory: its own entries (0: whiteout) and its lower directory (0: none). */
  dir?: { entries: [string, number][]; lower: number };
  parent?: number;
  name?: string;
}

/** {@link SetAttrs} with `'now'` replaced by the time. */
export type SetAttrsResolved = Omit<SetAttrs, 'atime' | 'mtime'> & { atime?: Timespec; mtime?: Timespec };

/**
 * The current time as a {@link Timespec}, to the nanosecond the clock gives.
 *
 * @example
 * ```ts
 * const t = nowTimespec(); // { sec: 1765000000, nsec: 123456789 }
 * ```
 */
export function nowTimespec(): Timespec {
  const ns = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
  return { sec: Number(ns / 1_000_000_000n), nsec: Number(ns % 1_000_000_000n) };
}
