// The automatic fallback end to end, in a separate process whose Node zlib handle no longer stops
// at block boundaries (a preload maps Z_BLOCK to Z_NO_FLUSH; node:zlib itself keeps working): the
// native self-test notices, seekable gzip switches to pako, says so (process warning and
// listener), and a lazily read file of a gzip layer is still exactly right.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, dir, file, writeLayout } from '../src/testing/builder/index.js';
import { tempDir } from './layout-fixtures.js';

const root = join(import.meta.dirname, '..');
let tmp: Awaited<ReturnType<typeof tempDir>>;
let ref: string;
const content = Buffer.alloc(3_000_000);

const PRELOAD = `
import zlib from 'node:zlib';
const proto = Object.getPrototypeOf(zlib.createInflateRaw()._handle);
const writeSync = proto.writeSync;
proto.writeSync = function (flush, ...rest) { return writeSync.call(this, flush === zlib.constants.Z_BLOCK ? zlib.constants.Z_NO_FLUSH : flush, ...rest); };
`;

beforeAll(async () => {
  tmp = await tempDir('inflate-fallback');
  for (let i = 0, x = 7; i < content.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    content[i] = i % 4 === 0 ? x >>> 24 : 97 + ((i >> 7) % 26);
  }
  const image = await buildImage({ layers: [{ entries: [dir('d'), file('d/big.bin', content), file('d/small.txt', 'small\n')], compression: { kind: 'gnu-gzip', level: 6 } }] });
  await writeLayout(join(tmp.path, 'layout'), [{ image, tag: 'v1' }]);
  await writeFile(join(tmp.path, 'preload.mjs'), PRELOAD);
  ref = `oci:${join(tmp.path, 'layout')}:v1`;
});

afterAll(async () => {
  await tmp.cleanup();
});

describe('automatic fallback to the JS inflate engine', () => {
  it('a Node whose zlib handle ignores Z_BLOCK gets pako, a warning and right bytes', () => {
    const run = (preload: boolean) => {
      const args = [...(preload ? ['--import', join(tmp.path, 'preload.mjs')] : []), '--import', 'tsx', join(root, 'test/inflate-fallback-child.ts'), ref, '/d/big.bin'];
      const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', env: { ...process.env, IMAGEFS_INFLATE: '' } });
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { lazy: boolean; engine: { engine: string; reason?: string }; heard: string[]; warnings: string[]; sha256: string; length: number };
    };
    const want = createHash('sha256').update(content).digest('hex');
    const broken = run(true);
    expect(broken.lazy).toBe(true);
    expect(broken.engine).toEqual({ engine: 'js', reason: expect.stringMatching(/does not stop at block boundaries/) });
    expect(broken.heard).toEqual([`js: ${broken.engine.reason}`]);
    expect(broken.warnings.filter((w) => w.startsWith('IMAGEFS_INFLATE_FALLBACK: '))).toHaveLength(1);
    expect([broken.length, broken.sha256]).toEqual([content.length, want]);
    const healthy = run(false);
    expect(healthy.lazy).toBe(true);
    expect(healthy.engine).toEqual({ engine: 'native' });
    expect(healthy.heard).toEqual([]);
    expect([healthy.length, healthy.sha256]).toEqual([content.length, want]);
  });
});
