import { execFile } from 'node:child_process';
import { writeFile, rm, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Escapes a file or attribute name as `getfattr` writes it in a dump: every byte outside
 * printable ASCII, and `\` and `=`, becomes `\ooo` (octal), which `setfattr --restore` undoes.
 * A name given as bytes is written as those bytes.
 */
export function quoteDumpName(name: string | Uint8Array): string {
  let out = '';
  for (const b of typeof name === 'string' ? Buffer.from(name, 'utf8') : name) {
    out += b > 0x20 && b < 0x7f && b !== 0x5c && b !== 0x3d ? String.fromCharCode(b) : '\\' + b.toString(8).padStart(3, '0');
  }
  return out;
}

/**
 * Collects extended attributes to set in one `setfattr -h --restore` run (one process for the
 * whole tree, instead of one per attribute). Paths are relative to the directory the restore runs in.
 */
export class XattrDump {
  private readonly parts: string[] = [];
  /** Number of attributes added. */
  count = 0;

  /** Adds the attributes of one path. */
  add(relPath: string | Uint8Array, xattrs: readonly (readonly [string, Uint8Array])[]): void {
    if (xattrs.length === 0) return;
    this.parts.push(`# file: ${quoteDumpName(relPath)}\n`);
    for (const [name, value] of xattrs) this.parts.push(`${quoteDumpName(name)}=0s${Buffer.from(value).toString('base64')}\n`);
    this.parts.push('\n');
    this.count += xattrs.length;
  }

  /** The dump text (getfattr's format). */
  toString(): string {
    return this.parts.join('');
  }

  /**
   * Runs `setfattr -h --restore=DUMP` in `cwd` (symlinks are never followed). Rejects with the
   * spawn error (`ENOENT` when `setfattr` is not installed) or setfattr's stderr.
   */
  async restore(cwd: string, signal?: AbortSignal): Promise<void> {
    if (this.count === 0) return;
    const tmp = await mkdtemp(join(tmpdir(), 'imagefs-xattrs-'));
    try {
      const file = join(tmp, 'dump');
      await writeFile(file, this.toString());
      await run('setfattr', ['-h', `--restore=${file}`], { cwd, signal, maxBuffer: 16 << 20 });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
}
