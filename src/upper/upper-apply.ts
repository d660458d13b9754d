import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../overlay/file-type.js';
import { encodeRawName } from '../tar/raw-name.js';
import { ExtentContent, type DataRef } from './extent-content.js';
import type { SnapshotNode, SnapshotRecord, UpperRecord } from './records.js';
import { cmpBytes, copyTime, UpperState, type UNode } from './upper-state.js';

/**
 * How the upper's records change its state: `apply` (each {@link UpperRecord}, also when a
 * journal is replayed), the snapshot a compaction writes and reads back. The checks come before,
 * in `UpperTree`: a record that reaches `apply` is valid.
 *
 * @example
 * ```ts
 * upper.compact(); // the journal becomes one snapshot record
 * ```
 */
export abstract class UpperApply extends UpperState {
  /** Applies a checked record. `ref`: where a write's data is (bytes, or a journal offset). */
  protected apply(r: UpperRecord, ref?: DataRef): void {
    // Replaying a journal: a new inode changed after its last name went (open, unlinked, still
    // written: FUSE does that) was forgotten at the unlink, no handle being open in a replay; what
    // was done to it after went with it. (Live calls never get here for a missing inode.)
    if ((r.op === 'write' || r.op === 'setattr' || r.op === 'setxattr' || r.op === 'removexattr') && r.ino > this.lowerMax && !this.nodes.has(r.ino)) return;
    switch (r.op) {
      case 'create': {
        const type = r.spec.mode & S_IFMT;
        const isDev = type === S_IFCHR || type === S_IFBLK;
        const target = r.spec.target;
        const node: UNode = {
          attrs: {
            ino: r.ino, mode: r.spec.mode, nlink: type === S_IFDIR ? 2 : 1, uid: r.spec.uid ?? 0, gid: r.spec.gid ?? 0,
            size: type === S_IFLNK ? encodeRawName(target!).length : 0,
            rdevMajor: isDev ? r.spec.rdevMajor ?? 0 : 0, rdevMinor: isDev ? r.spec.rdevMinor ?? 0 : 0,
            atime: copyTime(r.t), mtime: copyTime(r.t), ctime: copyTime(r.t),
          },
          xattrs: [], open: 0,
        };
        if (type === S_IFLNK) node.target = target!;
        if (type === S_IFREG) node.content = new ExtentContent(null, this.readRef);
        if (type === S_IFDIR) { node.dir = { entries: new Map(), lower: 0, listing: null, subdirs: 0 }; node.parent = r.dir; node.name = r.name; }
        this.nodes.set(r.ino, node);
        this.nextIno = Math.max(this.nextIno, r.ino + 1);
        this.setEntry(r.dir, r.name, r.ino);
        this.touchDir(r.dir, r.t);
        return;
      }
      case 'link': {
        const n = this.own(r.ino);
        n.attrs.nlink++;
        n.attrs.ctime = copyTime(r.t);
        this.setEntry(r.dir, r.name, r.ino);
        this.touchDir(r.dir, r.t);
        return;
      }
      case 'unlink': {
        const ino = this.lookup(r.dir, r.name);
        this.removeEntry(r.dir, r.name, false);
        this.dropName(ino, r.t);
        this.touchDir(r.dir, r.t);
        return;
      }
      case 'rename': this.applyRename(r); return;
      case 'setattr': {
        const n = this.own(r.ino);
        const a = r.attrs;
        if (a.mode !== undefined) n.attrs.mode = (n.attrs.mode & S_IFMT) | (a.mode & 0o7777);
        if (a.uid !== undefined) n.attrs.uid = a.uid;
        if (a.gid !== undefined) n.attrs.gid = a.gid;
        if (a.size !== undefined) {
          const c = this.contentOf(r.ino, n);
          if (a.size !== c.size) n.attrs.mtime = copyTime(r.t);
          c.truncate(a.size);
        }
        if (a.atime !== undefined) n.attrs.atime = copyTime(a.atime);
        if (a.mtime !== undefined) n.attrs.mtime = copyTime(a.mtime);
        n.attrs.ctime = copyTime(r.t);
        return;
      }
      case 'setxattr': case 'removexattr': {
        const n = this.own(r.ino);
        const list = (n.xattrs ?? this.lower.xattrs(r.ino).map(([k, v]): [string, Uint8Array] => [k, v])).filter(([k]) => k !== r.name);
        if (r.op === 'setxattr') list.push([r.name, new Uint8Array(Buffer.from(r.value, 'base64'))]);
        list.sort((x, y) => cmpBytes(x[0], y[0]));
        n.xattrs = list;
        n.attrs.ctime = copyTime(r.t);
        return;
      }
      case 'snapshot': this.restore(r, typeof ref === 'number' ? ref : 0); return;
      case 'write': {
        const n = this.own(r.ino);
        this.contentOf(r.ino, n).write(r.position, r.length, ref!);
        this.dataBytes += r.length;
        n.attrs.mtime = copyTime(r.t);
        n.attrs.ctime = copyTime(r.t);
        return;
      }
    }
  }

  /** Rebuilds the state from a snapshot whose data start at journal offset `dataAt`. */
  protected restore(r: SnapshotRecord, dataAt: number): void {
    this.nodes.clear();
    this.nextIno = r.nextIno;
    this.dataBytes = 0;
    for (const s of r.nodes) {
      if (s.attrs.nlink === 0 && s.ino > this.lowerMax) continue; // an unlinked file that was open: gone after a restart
      const n: UNode = {
        attrs: s.attrs, xattrs: s.xattrs === null ? null : s.xattrs.map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))]), open: 0,
      };
      if (s.target !== undefined) n.target = s.target;
      if (s.parent !== undefined) n.parent = s.parent;
      if (s.name !== undefined) n.name = s.name;
      if (s.dir !== undefined) n.dir = { entries: new Map(s.dir.entries), lower: s.dir.lower, listing: null, subdirs: null };
      if (s.content !== undefined) {
        const c = new ExtentContent(s.content.base ? this.lower.content(s.ino) : null, this.readRef);
        for (const [start, length, at] of s.content.extents) { c.write(start, length, dataAt + at); this.dataBytes += length; }
        c.truncate(s.content.size);
        c.baseLimit = s.content.baseLimit;
        n.content = c;
      }
      this.nodes.set(s.ino, n);
    }
  }

  /** Applies a checked rename (plain, `EXCHANGE` or `WHITEOUT`). */
  protected applyRename(r: Extract<UpperRecord, { op: 'rename' }>): void {
    const src = this.lookup(r.fromDir, r.fromName);
    const dst = this.lookup(r.toDir, r.toName);
    if (r.flags & 2) {
      this.setEntry(r.fromDir, r.fromName, dst);
      this.setEntry(r.toDir, r.toName, src);
      this.placeDir(dst, r.fromDir, r.fromName);
    } else {
      this.removeEntry(r.fromDir, r.fromName, (r.flags & 4) !== 0);
      this.setEntry(r.toDir, r.toName, src);
      if (dst !== 0) this.dropName(dst, r.t);
    }
    this.placeDir(src, r.toDir, r.toName);
    this.own(src).attrs.ctime = copyTime(r.t);
    this.touchDir(r.fromDir, r.t);
    if (r.toDir !== r.fromDir) this.touchDir(r.toDir, r.t);
  }

  /**
   * Rewrites an on-disk upper's journal as one snapshot record holding only the live state and
   * the bytes still visible (overwritten and deleted data are dropped), crash-safely (a new file
   * renamed over the journal). Nothing to do in memory. A failure (`ENOSPC`) leaves the journal
   * as it was.
   */
  compact(): void {
    if (this.journal === null) return;
    const ranges: [number, number][] = [];
    let dataAt = 0;
    const nodes: SnapshotNode[] = [];
    for (const [ino, n] of this.nodes) {
      const node: SnapshotNode = {
        ino, attrs: n.attrs, xattrs: n.xattrs === null ? null : n.xattrs.map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
      };
      if (n.target !== undefined) node.target = n.target;
      if (n.parent !== undefined) node.parent = n.parent;
      if (n.name !== undefined) node.name = n.name;
      if (n.dir !== undefined) node.dir = { entries: [...n.dir.entries], lower: n.dir.lower };
      if (n.content !== undefined) {
        const c = n.content;
        const extents: [number, number, number][] = [];
        for (const e of c.extents) {
          extents.push([e.start, e.length, dataAt]);
          ranges.push([(e.ref as number) + e.refOffset, e.length]);
          dataAt += e.length;
        }
        node.content = { size: c.size, baseLimit: c.baseLimit, base: c.base !== null, extents };
      }
      nodes.push(node);
    }
    const start = this.journal.compact({ op: 'snapshot', nextIno: this.nextIno, nodes }, ranges);
    // The bytes moved: point the extents at their new places (same order as above).
    let at = start;
    for (const n of this.nodes.values()) {
      if (n.content === undefined) continue;
      for (const e of n.content.extents) { e.ref = at; e.refOffset = 0; at += e.length; }
    }
    this.dataBytes = dataAt;
  }

}
