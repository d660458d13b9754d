// The image the fault tests read under registry lies: three layers (Go-style sync-flushed gzip,
// plain tar, GNU gzip) with many files, pushed to a real registry with their indexes stored as a
// referrer, so reads go through the lazy path (range requests, span digests).
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { pushRegistryIndexes } from '../../src/index-store/registry-indexes.js';
import { buildIndex } from '../../src/layer/build-index.js';
import type { ImageFs } from '../../src/fs/image-fs.js';
import { ImageFsError } from '../../src/errors/image-fs-error.js';
import { RegistrySource } from '../../src/registry/registry-source.js';
import { BufferSource } from '../../src/source/read-at.js';
import { buildImage, contentBytes, dir, file, writeLayout, type BuiltImage, type FileContent } from '../../src/testing/builder/index.js';
import { pushLayout, startFaultProxy, startRegistry, type FaultProxy, type TestRegistry } from '../../src/testing/registry/index.js';
import { tempDir } from '../layout-fixtures.js';
import type { Faults } from '../../src/testing/registry/faults.js';
import type { Rand } from './harness.js';

/** A file of the image and the bytes it must read as. */
export interface OracleFile { path: string; bytes: Buffer; sha256: string }

/** The built image, the files with their bytes (the oracle), and the reference to open. */
export interface FaultImage { image: BuiltImage; files: OracleFile[] }

/** Builds and pushes the image to `repo` of `reg` (tag v1) with its indexes (span 64 KiB). */
export async function pushFaultImage(reg: TestRegistry, layoutDir: string, repo: string): Promise<FaultImage> {
  const files: OracleFile[] = [];
  const add = (path: string, content: FileContent): ReturnType<typeof file> => {
    const bytes = Buffer.from(contentBytes(content));
    files.push({ path: `/${path}`, bytes, sha256: createHash('sha256').update(bytes).digest('hex') });
    return file(path, content);
  };
  const layer = (prefix: string, count: number, seed: number): ReturnType<typeof file>[] => [
    dir(prefix),
    ...Array.from({ length: count }, (_, i) => add(`${prefix}/f${i}`, { seed: seed + i, size: 500 + ((i * 7919) % 120_000), kind: i % 3 === 0 ? 'random' : 'text' } as FileContent)),
  ];
  const image = await buildImage({
    layers: [
      { entries: layer('sync', 40, 100), compression: { kind: 'gzip-sync', flushEvery: 16384 } },
      { entries: layer('plain', 15, 200), compression: 'none' },
      { entries: layer('gnu', 15, 300), compression: 'gnu-gzip' },
    ],
  });
  await writeLayout(layoutDir, [{ image, tag: 'v1' }]);
  await pushLayout(reg, { layoutDir, tag: 'v1', repo, destTag: 'v1' });
  const source = new RegistrySource(`${reg.host}/${repo}:v1`);
  const indexes = [];
  for (const l of image.layers) indexes.push({ layer: l.descriptor, bytes: (await buildIndex(new BufferSource(l.blob), l.descriptor, { span: 64 * 1024 })).bytes });
  await pushRegistryIndexes(source, image.descriptor, indexes);
  await source.close();
  return { image, files };
}

/** One random combination of 1-3 registry faults, each bounded in count so reads can also succeed. */
export function randomFaults(r: Rand): Faults {
  const all: Array<() => Faults> = [
    () => ({ latency: { ms: 1 + r.int(25), count: 5 + r.int(40) } }),
    () => ({ tooManyRequests: { retryAfter: 1, count: 1 + r.int(6), match: r.pick(['blob', 'any'] as const) } }),
    () => ({ serverError: { status: r.pick([500, 502, 503]), count: 1 + r.int(6) } }),
    () => ({ resetAfter: { bytes: r.int(40_000), count: 1 + r.int(6), match: 'blob' } }),
    () => ({ shortBody: { bytes: r.int(40_000), count: 1 + r.int(6), match: 'blob' } }),
    () => ({ ignoreRange: { count: 1 + r.int(6) } }),
    () => ({ bandwidth: { bytesPerSecond: 4 << 20, count: 3 + r.int(6), match: 'blob' } }),
    () => ({ wrongBytes: { offsets: [r.int(30_000), r.int(200)], count: 1 + r.int(6), match: r.pick(['blob', 'any'] as const) } }),
  ];
  const out: Faults = {};
  for (let k = 1 + r.int(3); k > 0; k--) Object.assign(out, r.pick(all)());
  return out;
}

/** What reading files gave: right bytes, typed errors (by code), wrong bytes (must stay 0), other errors. */
export interface ReadTally { right: number; typed: Record<string, number>; wrong: string[]; untyped: string[] }

/** Reads `files` (concurrently) and compares each result with the oracle. */
export async function readAndCheck(fs: ImageFs, files: readonly OracleFile[], tally: ReadTally): Promise<void> {
  await Promise.all(files.map(async (f) => {
    try {
      const got = await fs.readFile(f.path);
      if (got.equals(f.bytes)) tally.right++;
      else tally.wrong.push(`${f.path}: ${got.length} bytes, sha256 ${createHash('sha256').update(got).digest('hex')} (want ${f.sha256})`);
    } catch (error) {
      if (ImageFsError.is(error)) {
        const code = `${String(error.code)}${(error.cause as { code?: string } | undefined)?.code ? `/${(error.cause as { code: string }).code}` : ''}`;
        tally.typed[code] = (tally.typed[code] ?? 0) + 1;
      } else {
        tally.untyped.push(`${f.path}: ${(error as Error).stack ?? String(error)}`);
      }
    }
  }));
}

/** A fresh tally. */
export function newTally(): ReadTally {
  return { right: 0, typed: {}, wrong: [], untyped: [] };
}

/** The layout directory of a temp dir. */
export const layoutIn = (dirPath: string): string => join(dirPath, 'layout');

/** The fault image pushed to a started real registry, behind a fault proxy. */
export interface FaultFixture {
  proxy: FaultProxy;
  fixture: FaultImage;
  /** Stops the proxy and the registry, removes the temporary directory. */
  stop(): Promise<void>;
}

/** Starts a registry in a temporary directory named after `name`, pushes the image to `repo`, puts the fault proxy in front. */
export async function startFaultFixture(name: string, repo: string): Promise<FaultFixture> {
  const tmp = await tempDir(name);
  let reg: TestRegistry | undefined;
  let proxy: FaultProxy | undefined;
  const stop = async (): Promise<void> => {
    await proxy?.stop();
    await reg?.stop();
    await tmp.cleanup();
  };
  try {
    reg = await startRegistry();
    const fixture = await pushFaultImage(reg, layoutIn(tmp.path), repo);
    proxy = await startFaultProxy({ target: reg.url });
    return { proxy, fixture, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
