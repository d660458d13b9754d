// Fuzz targets for gzip layers and the layer index: mutated gzip streams indexed with buildIndex
// (oracle: node:zlib and the tar parser), and mutated indexes opened, walked and read. A mutated
// index whose trailer was not recomputed must be refused; one whose trailer was recomputed (as an
// attacker would) must end in a result or a typed error, and while its spans are intact every byte
// read must be the layer's.
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import type { Descriptor } from '../../src/image/types.js';
import { checkIndexBounds } from '../../src/layer-index/bounds.js';
import { withTrailer } from '../../src/layer-index/format.js';
import { openIndex } from '../../src/layer-index/layer-index.js';
import { buildIndex } from '../../src/layer/build-index.js';
import { openIndexedLayer } from '../../src/layer/indexed-layer.js';
import { BufferSource } from '../../src/source/read-at.js';
import { parseTar } from '../../src/tar/parser.js';
import { compress, dir, file, symlink, writeTar } from '../../src/testing/builder/index.js';
import type { FuzzTarget, Rand } from './harness.js';
import { mutateBytes } from './harness.js';
import { memoryImageSource } from './memory-image.js';

const GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const SPAN = 16 * 1024;

interface Seed { tar: Uint8Array; blob: Uint8Array; descriptor: Descriptor; index: Uint8Array }
const seeds: Seed[] = [];

function descriptorOf(blob: Uint8Array): Descriptor {
  return { mediaType: GZIP, digest: `sha256:${createHash('sha256').update(blob).digest('hex')}`, size: blob.length };
}

/** Builds the seed layers once: plain gzip, Go-style sync-flushed, multi-member. */
export async function setupIndexSeeds(): Promise<void> {
  if (seeds.length > 0) return;
  const tar = writeTar([
    dir('d'), file('d/text.txt', { seed: 1, size: 60_000, kind: 'text' }), file('d/rand.bin', { seed: 2, size: 30_000 }),
    symlink('d/l', 'text.txt'), file('d/x', 'xattr', { xattrs: { 'user.k': 'v' } }), file('d/tail.txt', { seed: 3, size: 20_000, kind: 'text' }),
  ]);
  for (const compression of ['gzip', { kind: 'gzip-sync', flushEvery: 8192 }, { kind: 'gzip-multi', members: 3 }] as const) {
    const blob = await compress(tar, compression);
    const descriptor = descriptorOf(blob);
    const built = await buildIndex(new BufferSource(blob), descriptor, { span: SPAN });
    seeds.push({ tar, blob, descriptor, index: built.bytes });
  }
}

/** Mutated gzip layers, indexed; what the index serves is checked against zlib + the tar parser. */
export const gzipMutationTarget: FuzzTarget<Uint8Array> = {
  name: 'gzip streams (mutation, buildIndex)',
  ciCases: 300,
  setup: setupIndexSeeds,
  generate: (r) => {
    const seed = r.pick(seeds);
    // Mostly near the start (header, first blocks) and the end (trailer), where the rules are.
    return mutateBytes(seed.blob, r, 1 + r.int(3), (rr, n) => (rr.chance(0.5) ? rr.int(Math.min(n, 64)) : Math.max(0, n - 1 - rr.int(Math.min(n, 64)))));
  },
  run: async (blob) => {
    const descriptor = descriptorOf(blob);
    const built = await buildIndex(new BufferSource(blob), descriptor, { span: SPAN });
    // Accepted: node:zlib must agree on the bytes (else imagefs accepted a broken stream).
    let tar: Uint8Array;
    try {
      tar = gunzipSync(blob);
    } catch (error) {
      throw new Error(`buildIndex accepted a stream node:zlib refuses: ${(error as Error).message}`);
    }
    const expected = parseTar(tar);
    const lazy = await openIndexedLayer(memoryImageSource(new Map([[descriptor.digest, blob]])), descriptor, built.bytes);
    try {
      const entries = await lazy.entries();
      if (entries.length !== expected.length) throw new Error(`index has ${entries.length} entries, the tar ${expected.length}`);
      for (const e of entries) {
        if (e.type !== 'file' || e.size === 0) continue;
        const bytes = await lazy.data.readAt(e.dataOffset, e.size);
        if (!Buffer.from(bytes).equals(Buffer.from(tar.subarray(e.dataOffset, e.dataOffset + e.size)))) throw new Error(`wrong bytes for '${e.path}'`);
      }
    } finally {
      await lazy.close();
    }
  },
};

interface IndexCase { seed: Seed; bytes: Uint8Array; retrailered: boolean; spansIntact: boolean }

/** Section table offsets: [offset, length] of section i. */
function section(bytes: Uint8Array, i: number): [number, number] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return [view.getUint32(40 + 8 * i, true), view.getUint32(44 + 8 * i, true)];
}

/** Mutated layer indexes. */
export const indexMutationTarget: FuzzTarget<IndexCase> = {
  name: 'layer index (mutation)',
  ciCases: 1200,
  setup: setupIndexSeeds,
  generate: (r: Rand) => {
    const seed = r.pick(seeds);
    const body = seed.index.subarray(0, seed.index.length - 32);
    const retrailered = r.chance(0.85);
    // Half the cases mutate only the entry sections (1..6): the spans stay intact.
    const entryOnly = r.chance(0.5);
    const [start] = section(seed.index, 1);
    const [cpStart] = section(seed.index, 7);
    const focus = entryOnly ? (rr: Rand): number => start + rr.int(Math.max(1, cpStart - start)) : (rr: Rand, n: number): number => (rr.chance(0.3) ? rr.int(Math.min(n, 120)) : rr.int(n));
    let mutated = mutateBytes(body, r, 1 + r.int(4), focus);
    if (entryOnly && (mutated.length !== body.length)) mutated = mutateBytes(body, r, 1, (rr) => start + rr.int(Math.max(1, cpStart - start)));
    const spansIntact = entryOnly && mutated.length === body.length && Buffer.from(mutated.subarray(cpStart)).equals(Buffer.from(body.subarray(cpStart)));
    const bytes = retrailered ? withTrailer(mutated) : concat(mutated, seed.index.subarray(seed.index.length - 32));
    return { seed, bytes, retrailered, spansIntact };
  },
  run: async ({ seed, bytes, retrailered, spansIntact }) => {
    const unchanged = Buffer.from(bytes).equals(Buffer.from(seed.index));
    if (!retrailered && !unchanged) {
      let opened = false;
      try {
        openIndex(bytes);
        opened = true;
      } catch (error) {
        if ((error as { code?: string }).code === 'DataLoss' || (error as { code?: string }).code === 'InvalidArgument') throw error;
        throw new Error(`a corrupt index failed with ${(error as Error).message}`);
      }
      if (opened) throw new Error('an index with a wrong trailer was opened');
    }
    const idx = openIndex(bytes);
    // Walk everything the index can answer.
    const entries = idx.entries();
    for (const e of entries.slice(0, 64)) {
      idx.lookup(e.path);
      if (e.type === 'dir') idx.readdir(e.path);
    }
    idx.readdir('');
    for (let i = 0; i < Math.min(idx.checkpointCount, 64); i++) idx.checkpoint(i);
    // What the index store checks on every index it did not build (IndexStore.find).
    checkIndexBounds(idx);
    const lazy = await openIndexedLayer(memoryImageSource(new Map([[seed.descriptor.digest, seed.blob]])), seed.descriptor, bytes);
    try {
      for (const e of (await lazy.entries()).slice(0, 32)) {
        if (e.type !== 'file' || e.size === 0 || e.size > 1 << 20) continue;
        const got = await lazy.data.readAt(e.dataOffset, e.size);
        if (spansIntact && !Buffer.from(got).equals(Buffer.from(seed.tar.subarray(e.dataOffset, e.dataOffset + e.size)))) {
          throw new Error(`wrong bytes served for '${e.path}' at ${e.dataOffset} though the spans are intact`);
        }
      }
    } finally {
      await lazy.close();
    }
  },
};

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
