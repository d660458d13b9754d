import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { constants as fsc } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { FsError } from '../../src/errors/fs-error.js';
import type { ImageFs } from '../../src/fs/image-fs.js';
import { dir, file, hardlink, opaque, randomBytes, runTool, seededRandom, symlink, whiteout, type TarRecord } from '../../src/testing/builder/index.js';

/** One operation of the random sequences, applied alike to the kernel and to imagefs. */
export type Op =
  | { op: 'rename'; a: string; b: string; flags: number }
  | { op: 'unlink'; a: string }
  | { op: 'rmdir'; a: string }
  | { op: 'mkdir'; a: string; mode: number }
  | { op: 'write'; a: string; offset: number; data: string }
  | { op: 'truncate'; a: string; size: number }
  | { op: 'symlink'; target: string; a: string }
  | { op: 'link'; a: string; b: string }
  | { op: 'chmod'; a: string; mode: number }
  | { op: 'chown'; a: string; uid: number; gid: number }
  | { op: 'setxattr'; a: string; name: string; value: string };

const PY = String.raw`
import ctypes, errno, json, os, sys
root = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)
libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
AT_FDCWD = -100
os.umask(0o022)
def p(x): return os.path.join(root, x.lstrip('/'))
for line in sys.stdin:
    o = json.loads(line)
    try:
        k = o['op']
        if k == 'rename':
            if libc.renameat2(AT_FDCWD, os.fsencode(p(o['a'])), AT_FDCWD, os.fsencode(p(o['b'])), o['flags']) != 0:
                e = ctypes.get_errno(); raise OSError(e, os.strerror(e))
        elif k == 'unlink': os.unlink(p(o['a']))
        elif k == 'rmdir': os.rmdir(p(o['a']))
        elif k == 'mkdir': os.mkdir(p(o['a']), o['mode'])
        elif k == 'write':
            fd = os.open(p(o['a']), os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK, 0o644)
            try: os.pwrite(fd, bytes.fromhex(o['data']), o['offset'])
            finally: os.close(fd)
        elif k == 'truncate': os.truncate(p(o['a']), o['size'])
        elif k == 'symlink': os.symlink(o['target'], p(o['a']))
        elif k == 'link': os.link(p(o['a']), p(o['b']), follow_symlinks=False)
        elif k == 'chmod': os.chmod(p(o['a']), o['mode'])
        elif k == 'chown': os.chown(p(o['a']), o['uid'], o['gid'])
        elif k == 'setxattr': os.setxattr(p(o['a']), o['name'], o['value'].encode())
        print('OK', flush=True)
    except OSError as e:
        print(errno.errorcode.get(e.errno, str(e.errno)), flush=True)
`;

/** A python3 process applying {@link Op}s under a directory (a kernel overlayfs mount), one at a time. */
export class KernelOps {
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly lines: Interface;
  private readonly waiting: ((line: string) => void)[] = [];

  constructor(root: string) {
    this.proc = spawn('python3', ['-u', '-c', PY, root]);
    this.lines = createInterface({ input: this.proc.stdout });
    this.lines.on('line', (line) => this.waiting.shift()?.(line));
  }

  /** Applies `op`; resolves to `OK` or the errno name. */
  apply(op: Op): Promise<string> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.proc.stdin.write(`${JSON.stringify(op)}\n`);
    });
  }

  /** Ends the process. */
  async close(): Promise<void> {
    this.proc.stdin.end();
    await new Promise((r) => this.proc.once('exit', r));
  }
}

/** Applies `op` to imagefs; resolves to `OK` or the error code. */
export async function applyToImageFs(fs: ImageFs, op: Op): Promise<string> {
  try {
    switch (op.op) {
      case 'rename': await fs.rename(op.a, op.b, op.flags); break;
      case 'unlink': await fs.unlink(op.a); break;
      case 'rmdir': await fs.rmdir(op.a); break;
      case 'mkdir': await fs.mkdir(op.a, op.mode); break;
      case 'write': {
        const fh = await fs.open(op.a, fsc.O_WRONLY | fsc.O_CREAT, 0o644);
        try { await fh.write(Buffer.from(op.data, 'hex'), 0, op.data.length / 2, op.offset); } finally { await fh.close(); }
        break;
      }
      case 'truncate': await fs.truncate(op.a, op.size); break;
      case 'symlink': await fs.symlink(op.target, op.a); break;
      case 'link': await fs.link(op.a, op.b); break;
      case 'chmod': await fs.chmod(op.a, op.mode); break;
      case 'chown': await fs.chown(op.a, op.uid, op.gid); break;
      case 'setxattr': await fs.setxattr(op.a, op.name, op.value); break;
    }
    return 'OK';
  } catch (e) {
    if (e instanceof FsError) return e.code;
    throw e;
  }
}

/** Every path of the tree (directories with a trailing marker), from ImageFs.walk. */
export async function pathsOf(fs: ImageFs): Promise<{ all: string[]; dirs: string[] }> {
  const all: string[] = [];
  const dirs: string[] = [];
  for await (const { path, stats } of fs.walk('/')) {
    all.push(path);
    if (stats.isDirectory()) dirs.push(path);
  }
  return { all, dirs };
}

const NAMES = ['a', 'b', 'c', 'x', 'y'];
const FLAGS = [0, 0, 0, 1, 1, 2, 2, 4, 5, 3, 8];

/**
 * A seeded generator of {@link Op}s over the current paths: existing paths (lower symlinks and
 * directories included) and new names in existing directories, so that collisions, loops and
 * type clashes happen often. Symlink targets are relative names only (nothing can point out of
 * the kernel mount).
 */
export function opGenerator(seed: number): (paths: { all: string[]; dirs: string[] }) => Op {
  const next = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[next() % xs.length]!;
  return ({ all, dirs }) => {
    const existing = (): string => pick(all.filter((p) => p !== '/'));
    const fresh = (): string => { const d = pick(dirs); return `${d === '/' ? '' : d}/${pick(NAMES)}`; };
    const any = (): string => (next() % 3 === 0 ? fresh() : existing());
    const kind = next() % 100;
    if (kind < 30) return { op: 'rename', a: any(), b: any(), flags: pick(FLAGS) };
    if (kind < 38) return { op: 'unlink', a: any() };
    if (kind < 44) return { op: 'rmdir', a: any() };
    if (kind < 52) return { op: 'mkdir', a: any(), mode: pick([0o755, 0o700, 0o1777]) };
    if (kind < 66) {
      const len = 1 + (next() % 64);
      const data = Buffer.alloc(len, 0x61 + (next() % 26)).toString('hex');
      return { op: 'write', a: any(), offset: pick([0, 1, 100, 4095, 70000]), data };
    }
    if (kind < 72) return { op: 'truncate', a: any(), size: pick([0, 3, 5000]) };
    if (kind < 80) return { op: 'symlink', target: pick([...NAMES, 'd/x', 'etc']), a: any() };
    if (kind < 87) return { op: 'link', a: any(), b: any() };
    if (kind < 91) return { op: 'chmod', a: any(), mode: pick([0o600, 0o755, 0o4711, 0o2755, 0o1777]) };
    if (kind < 94) return { op: 'chown', a: any(), uid: pick([-1, 0, 7]), gid: pick([-1, 0, 9]) };
    return { op: 'setxattr', a: any(), name: pick(['user.a', 'user.b']), value: pick(['1', 'two', '']) };
  };
}

/** Mounts a writable overlay of `lowers` (base first) with the kernel features imagefs matches: index=on (hardlinks survive copy-up), redirect_dir=on (lower directories rename). */
export async function mountWritable(lowers: readonly string[], root: string, features: string): Promise<{ mnt: string; unmount: () => Promise<void> }> {
  const upper = join(root, 'upper');
  const work = join(root, 'work');
  const mnt = join(root, 'mnt');
  await Promise.all([mkdir(upper), mkdir(work), mkdir(mnt)]);
  const opts = `lowerdir=${[...lowers].reverse().join(':')},upperdir=${upper},workdir=${work}${features}`;
  await runTool('mount', ['-t', 'overlay', 'overlay', '-o', opts, mnt]);
  return { mnt, unmount: async () => { await runTool('umount', [mnt]); } };
}

/** The oracles' lower layers (library and FUSE runs): files, relative symlinks (to files and directories), nested directories, hardlinks, xattrs, a whiteout, an opaque directory. */
export function oracleLayers(): TarRecord[][] {
  return [
    [
      dir('etc'), file('etc/passwd', 'root:x:0:0\n'), file('etc/group', 'root:x:0:\n'), symlink('etc/link', 'passwd'),
      dir('d'), file('d/x', 'x'), dir('d/sub'), file('d/sub/y', 'y'), dir('d/sub/deep'), file('d/sub/deep/z', 'z'),
      file('h1', 'shared', { mode: 0o640 }), hardlink('h2', 'h1'), dir('e'), symlink('ln', 'd'), symlink('dangling', 'nowhere'),
      file('big', randomBytes(7, 100_000)), dir('keep', { xattrs: { 'user.k': 'v' } }), file('keep/f', 'f', { xattrs: { 'user.f': 'w' } }),
      dir('o'), file('o/old', 'old'),
    ],
    [
      whiteout('etc/group'), dir('d', { mode: 0o750 }), file('d/w', 'w'), opaque('o'), file('o/new', 'new'), file('big2', randomBytes(8, 10_000)),
      symlink('x', 'h1'),
    ],
  ];
}
