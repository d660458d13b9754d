// Fuzz target for the FUSE server's request handling, without a mount: frames (a 40-byte header
// and a body, structured or random) fed to FuseOperations.handle over a real image's tree. Every
// frame must end in no reply, an errno the server knows, or a reply body that holds at least the
// out header; none may be reported as an I/O error (the tree is in memory: a bad frame is not an I/O
// failure), and the server must keep answering the real requests afterwards.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ImageFs } from '../../src/fs/image-fs.js';
import { readInHeader } from '../../src/fuse/codec.js';
import { FuseOperations, type OperationNote } from '../../src/fuse/operations.js';
import { Errno, Op, Size } from '../../src/fuse/protocol.js';
import { openImage } from '../../src/open/open-image.js';
import { buildImage, dir, file, symlink, writeLayout } from '../../src/testing/builder/index.js';
import type { FuzzTarget, Rand } from './harness.js';

let fs: ImageFs | undefined;
let root: string | undefined;
let ops: FuseOperations | undefined;
const notes: OperationNote[] = [];
const KNOWN_ERRNOS = new Set<number>([...Object.values(Errno), 71 /* EPROTO */]);
const NAMES = ['etc', 'hosts', 'bin', 'sh', 'link', 'x', '.', '..', '', 'missing', 'a'.repeat(300), '\u00ff'];

function frame(opcode: number, nodeid: number, body: Uint8Array, unique = 1n): { header: Buffer; body: Buffer } {
  const header = Buffer.alloc(Size.IN_HEADER);
  header.writeUInt32LE(Size.IN_HEADER + body.length, 0);
  header.writeUInt32LE(opcode >>> 0, 4);
  header.writeBigUInt64LE(unique, 8);
  header.writeBigUInt64LE(BigInt(nodeid), 16);
  return { header, body: Buffer.from(body) };
}

function u32s(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeUInt32LE(v >>> 0, i * 4));
  return b;
}

function u64(value: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(value)));
  return b;
}

function cstr(text: string): Buffer {
  return Buffer.concat([Buffer.from(text), Buffer.alloc(1)]);
}

/** Sets up the tree and a FuseOperations that has seen INIT. */
async function setup(): Promise<void> {
  if (ops !== undefined) return;
  root = await mkdtemp(join(tmpdir(), 'imagefs-fuzz-fuse-'));
  const image = await buildImage({
    layers: [{ entries: [dir('etc'), file('etc/hosts', '127.0.0.1 localhost\n', { xattrs: { 'user.k': 'v' } }), dir('bin'), file('bin/sh', { seed: 5, size: 70_000 }), symlink('link', 'etc/hosts')], compression: 'gzip' }],
  });
  await writeLayout(join(root, 'layout'), [{ image, tag: 'v1' }]);
  fs = await openImage(`oci:${join(root, 'layout')}:v1`, { platform: { os: 'linux', architecture: 'amd64' } });
  ops = new FuseOperations(fs.tree, { entrySeconds: 1, attrSeconds: 1 }, (n) => notes.push(n));
  const init = frame(Op.INIT, 0, Buffer.concat([u32s(7, 31, 1 << 17, 0xffffffff), Buffer.alloc(48)]));
  await ops.handle(readInHeader(init.header), init.body);
}

/** A frame: mostly a real opcode with a plausible body, sometimes bytes that are not. */
function generate(r: Rand): { header: Buffer; body: Buffer } {
  const opcodes = Object.values(Op) as number[];
  const opcode = r.chance(0.9) ? r.pick(opcodes) : r.pick([0, 53, 100, 4096, 0xffffffff, r.int(2 ** 31)]);
  const nodeid = r.chance(0.8) ? 1 + r.int(8) : r.pick([0, 2 ** 32, 2 ** 53 - 1, r.int(2 ** 31)]);
  const big = (): number | bigint => r.pick<number | bigint>([0, 1, 4095, 4096, 1 << 20, (1 << 20) + 1, 2 ** 31, 2 ** 32 - 1, 2n ** 63n, 2n ** 64n - 1n, r.int(100_000)]);
  let body: Buffer;
  if (r.chance(0.15)) {
    body = Buffer.from(r.bytes(r.int(r.chance(0.5) ? 8 : 200)));
  } else {
    switch (opcode) {
      case Op.LOOKUP: body = cstr(r.pick(NAMES)); break;
      case Op.READ: case Op.READDIR: case Op.READDIRPLUS: body = Buffer.concat([u64(big()), u64(big()), u32s(Number(BigInt.asUintN(32, BigInt(big())))), Buffer.alloc(r.int(24))]); break;
      case Op.GETXATTR: body = Buffer.concat([u32s(Number(BigInt.asUintN(32, BigInt(big()))), 0), cstr(r.pick(['user.k', 'user.missing', '', 'security.capability']))]); break;
      case Op.LISTXATTR: case Op.OPEN: case Op.ACCESS: body = u32s(Number(BigInt.asUintN(32, BigInt(big()))), 0); break;
      case Op.RELEASE: case Op.RELEASEDIR: case Op.INTERRUPT: body = Buffer.concat([u64(big()), Buffer.alloc(16)]); break;
      case Op.INIT: body = Buffer.concat([u32s(r.pick([6, 7, 8]), r.int(50), r.int(2 ** 31), r.int(2 ** 32)), Buffer.alloc(r.int(64))]); break;
      default: body = Buffer.from(r.bytes(r.int(64)));
    }
    if (r.chance(0.1)) body = body.subarray(0, r.int(body.length + 1));
  }
  return frame(opcode, nodeid, body, BigInt(r.int(2 ** 31)));
}

/** FUSE request frames fed to FuseOperations.handle. */
export const fuseFrameTarget: FuzzTarget<{ header: Buffer; body: Buffer }> = {
  name: 'FUSE request frames (generation, FuseOperations.handle)',
  ciCases: 3000,
  setup,
  generate,
  run: async (f) => {
    const before = notes.filter((n) => n.type === 'io-error').length;
    const reply = await ops!.handle(readInHeader(f.header), f.body);
    if (reply !== null) {
      if ('errno' in reply) {
        if (!KNOWN_ERRNOS.has(reply.errno)) throw new Error(`opcode ${f.header.readUInt32LE(4)} answered errno ${reply.errno}`);
      } else if (!(reply.body.length >= Size.OUT_HEADER)) {
        throw new Error(`opcode ${f.header.readUInt32LE(4)} answered a ${reply.body.length}-byte body`);
      }
    }
    const after = notes.filter((n) => n.type === 'io-error');
    if (after.length !== before) throw new Error(`a malformed request was reported as an I/O error: ${String((after.at(-1) as { error?: unknown }).error)}`);
    // The server still answers a real request correctly.
    const look = frame(Op.LOOKUP, 1, cstr('etc'));
    const ok = await ops!.handle(readInHeader(look.header), look.body);
    if (ok === null || !('body' in ok) || ok.body.readBigUInt64LE(Size.OUT_HEADER) === 0n) throw new Error('LOOKUP etc stopped working');
  },
  teardown: async () => {
    await fs?.close();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
    fs = undefined;
    ops = undefined;
  },
};
