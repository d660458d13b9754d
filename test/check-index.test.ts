// imagefs check tells whether each lazy layer already has a stored index, and what to run if not.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, dir, file, writeLayout } from '../src/testing/builder/index.js';
import { pushLayout, startRegistry, type TestRegistry } from '../src/testing/registry/index.js';
import { tempDir } from './layout-fixtures.js';
import { runCliCapture } from './helpers/run-cli.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let reg: TestRegistry;
let ref: string;

beforeAll(async () => {
  tmp = await tempDir('check-index');
  const image = await buildImage({
    layers: [
      { entries: [dir('big'), file('big/a.bin', { seed: 1, size: 11 * 1024 * 1024 })] },
      { entries: [dir('etc'), file('etc/small', 'x\n')] },
    ],
  });
  await writeLayout(join(tmp.path, 'layout'), [{ image, tag: 'v1' }]);
  reg = await startRegistry();
  await pushLayout(reg, { layoutDir: join(tmp.path, 'layout'), tag: 'v1', repo: 'check/app', destTag: 'v1' });
  ref = `${reg.host}/check/app:v1`;
}, 60_000);

afterAll(async () => {
  await reg?.stop();
  await tmp?.cleanup();
});

describe('imagefs check and stored indexes', () => {
  it('says a lazy layer has no index and how to build one, then that it is stored', async () => {
    const before = await runCliCapture('--no-cache', '--json', 'check', ref);
    expect(before.code).toBe(0);
    const json = JSON.parse(before.stdout) as { layers: Array<{ mode: string; index?: string }> };
    expect(json.layers.map((l) => [l.mode, l.index])).toEqual([['lazy', 'missing'], ['whole', undefined]]);
    const text = await runCliCapture('--no-cache', 'check', ref);
    expect(text.stdout).toContain(`run 'imagefs index --push ${ref}' once`);
    expect(text.stdout).toContain('(no index yet)');

    expect((await runCliCapture('--no-cache', 'index', '--push', ref)).code).toBe(0);
    const after = JSON.parse((await runCliCapture('--no-cache', '--json', 'check', ref)).stdout) as typeof json;
    expect(after.layers.map((l) => [l.mode, l.index])).toEqual([['lazy', 'stored'], ['whole', undefined]]);
    const afterText = (await runCliCapture('--no-cache', 'check', ref)).stdout;
    expect(afterText).toContain('(index stored)');
    expect(afterText).not.toContain('no stored imagefs index');
  });
});
