import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportTo } from '../src/fs/export.js';
import type { ImageFs } from '../src/fs/image-fs.js';
import { openImage } from '../src/open/open-image.js';
import { openSource } from '../src/open/open-source.js';
import { parseTar } from '../src/tar/parser.js';
import { constants } from '../src/constants.js';
import {
  buildImage, dir, file, hardlink, opaque, randomBytes, readDiskTree, runTool, symlink, whiteout, writeLayout, type TarRecord,
} from '../src/testing/builder/index.js';
import { commitUpper } from '../src/upper/commit.js';
import { openIndex } from '../src/layer-index/layer-index.js';
import { diffTrees, imageFsTree, tempDir } from './helpers/overlay-trees.js';
import { runCliCapture } from './helpers/run-cli.js';
import { startRegistry } from '../src/testing/registry/index.js';

// Needs root (owners, devices, xattrs) and umoci: fails (never skips) without them.

function baseLayers(): TarRecord[][] {
  return [
    [
      dir('etc'), file('etc/passwd', 'root:x:0:0\n'), file('etc/group', 'root:x:0:\n'), symlink('etc/link', 'passwd'),
      dir('d'), file('d/x', 'x'), dir('d/sub'), file('d/sub/y', 'y', { xattrs: { 'user.y': 'yy' } }),
      file('h1', 'shared', { mode: 0o640 }), hardlink('h2', 'h1'), dir('e'), symlink('ln', 'd'),
      file('big', randomBytes(7, 300_000)), dir('keep', { xattrs: { 'user.k': 'v' } }), file('keep/f', 'f'), dir('o'), file('o/old', 'old'),
    ],
    [whiteout('etc/link'), file('big2', randomBytes(8, 10_000)), opaque('e'), file('e/new', 'n'), symlink('x', 'h1')],
  ];
}

/** Every kind of change the upper can hold. */
async function change(fs: ImageFs): Promise<void> {
  await fs.writeFile('/etc/motd', 'hello\n');
  await fs.appendFile('/etc/passwd', 'daemon:x:1:1\n');
  await fs.rename('/d', '/moved');
  await fs.rename('/ln', '/ln2', constants.RENAME_NOREPLACE);
  await fs.unlink('/etc/group');
  await fs.rm('/o', { recursive: true });
  await fs.mkdir('/o');
  await fs.writeFile('/o/again', 'again');
  await fs.writeFile('/h1', 'changed through one name');
  await fs.link('/etc/motd', '/motd-link');
  await fs.setxattr('/keep/f', 'user.new', Buffer.from([0, 1, 2, 255]));
  await fs.chmod('/keep', 0o700);
  await fs.chown('/etc/motd', 1000, 100);
  await fs.utimes('/etc/motd', 1700000000n, 1700000000123456789n);
  await fs.utimes('/moved/x', 1, -1.5);
  const long = 'l'.repeat(150);
  await fs.mkdir(`/${'n'.repeat(90)}/${'m'.repeat(90)}`, { recursive: true });
  await fs.writeFile(`/${'n'.repeat(90)}/${'m'.repeat(90)}/${long}`, 'deep');
  await fs.symlink('t'.repeat(200), '/longlink');
  await fs.mknod('/null', 0o020666, { major: 1, minor: 3 });
  await fs.mkfifo('/fifo', 0o640);
  const fh = await fs.open('/big', 'r+');
  await fh.write(Buffer.from('Z'), 0, 1, 150_000);
  await fh.close();
  await fs.truncate('/big2', 5);
  await fs.rename('/e', '/x', constants.RENAME_EXCHANGE);
  await fs.setxattr('/o', 'user.dir', 'opaque-again');
  await fs.writeFile('/moved/sub/y', 'changed in a renamed lower directory');
}

describe('commit: the upper as a layer, read back by umoci and by imagefs', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let layout: string;
  let fs: ImageFs;
  let shown: Awaited<ReturnType<typeof imageFsTree>>;
  let manifestDigest: string;

  beforeAll(async () => {
    expect(process.getuid?.()).toBe(0);
    tmp = await tempDir('commit-roundtrip-');
    layout = join(tmp.dir, 'layout');
    await writeLayout(layout, [{ image: await buildImage({ layers: baseLayers().map((entries) => ({ entries })) }), tag: 't' }]);
    fs = await openImage(`oci:${layout}:t`, { upper: join(tmp.dir, 'upper') });
    await change(fs);
    shown = await imageFsTree(fs);
    const source = openSource(`oci:${layout}:t`);
    const resolved = await source.resolve();
    const result = await commitUpper(fs, { to: `oci:${layout}:t2`, source, resolved, created: new Date(0) });
    await source.close();
    manifestDigest = result.manifest.digest;
    expect(result.entries).toBeGreaterThan(20);
  }, 120_000);
  afterAll(async () => { await fs?.close(); await tmp?.cleanup(); });

  it('umoci unpack of the committed image equals what imagefs showed (types, modes, owners, data, xattrs, nanosecond mtimes, hardlinks)', async () => {
    const bundle = join(tmp.dir, 'bundle');
    await runTool('umoci', ['unpack', '--image', `${layout}:t2`, bundle]);
    const rootfs = await readDiskTree(join(bundle, 'rootfs'));
    expect(rootfs.get('moved/sub/y')?.type).toBe('file');
    expect(diffTrees(rootfs, shown, { mtime: true, links: true })).toEqual([]);
  });

  it('imagefs opens the committed image as the same tree, and export writes it', async () => {
    const again = await openImage(`oci:${layout}:t2`);
    try {
      expect(diffTrees(shown, await imageFsTree(again), { mtime: true, links: true })).toEqual([]);
      const out = join(tmp.dir, 'export');
      await exportTo(again, out);
      expect(diffTrees(shown, await readDiskTree(out), { mtime: true, links: true })).toEqual([]);
    } finally {
      await again.close();
    }
  });

  it('the layer holds whiteouts, an opaque marker, PAX long names and nanosecond times, and the config appends its diff_id', async () => {
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
    expect(index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 't2')?.digest).toBe(manifestDigest);
    const blob = async (d: string): Promise<Buffer> => readFile(join(layout, 'blobs', 'sha256', d.slice(7)));
    const manifest = JSON.parse((await blob(manifestDigest)).toString()) as { config: { digest: string }; layers: { digest: string }[] };
    expect(manifest.layers).toHaveLength(3);
    const config = JSON.parse((await blob(manifest.config.digest)).toString()) as { rootfs: { diff_ids: string[] }; history: { created_by: string }[] };
    expect(config.rootfs.diff_ids).toHaveLength(3);
    expect(config.history.at(-1)?.created_by).toBe('imagefs commit');
    const tar = gunzipSync(await blob(manifest.layers[2]!.digest));
    expect(`sha256:${(await import('node:crypto')).createHash('sha256').update(tar).digest('hex')}`).toBe(config.rootfs.diff_ids[2]);
    const entries = parseTar(new Uint8Array(tar));
    const names = entries.map((e) => e.path);
    for (const p of ['etc/.wh.group', '.wh.d', '.wh.ln', 'o/.wh..wh..opq', 'moved/sub/y', 'ln2', `${'n'.repeat(90)}/${'m'.repeat(90)}/${'l'.repeat(150)}`]) expect(names, p).toContain(p);
    expect(names).not.toContain('keep/f/..');
    expect(names).not.toContain('etc/link'); // unchanged lower entries stay out
    const motd = entries.find((e) => e.path === 'etc/motd');
    expect([motd?.mtime, motd?.mtimeNsec, motd?.uid, motd?.gid]).toEqual([1700000000, 123456789, 1000, 100]);
    const x = entries.find((e) => e.path === 'moved/x');
    expect([x?.mtime, x?.mtimeNsec]).toEqual([-2, 500_000_000]);
    expect(entries.find((e) => e.path === 'keep/f')?.xattrs?.['user.new']).toEqual(new Uint8Array([0, 1, 2, 255]));
  });

  it('pushes to a registry (base layers, the layer, config, manifest under the tag); the pulled image is the same tree', async () => {
    const registry = await startRegistry();
    const source = openSource(`oci:${layout}:t`);
    try {
      const result = await commitUpper(fs, { to: `${registry.host}/app:2`, source, resolved: await source.resolve(), created: new Date(0) });
      const pulled = await openImage(`${registry.host}/app:2`);
      try {
        expect(diffTrees(shown, await imageFsTree(pulled), { mtime: true, links: true })).toEqual([]);
      } finally {
        await pulled.close();
      }
      const check = openSource(`${registry.host}/app:2`);
      expect((await check.resolve()).digest).toBe(result.manifest.digest);
      await check.close();
    } finally {
      await source.close();
      await registry.stop();
    }
  }, 60_000);

  it('export of the live upper writes what it shows; an upper without changes is refused (FailedPrecondition), publishing nothing', async () => {
    const out = join(tmp.dir, 'export-live');
    await exportTo(fs, out);
    expect(diffTrees(shown, await readDiskTree(out), { mtime: true, links: true })).toEqual([]);
    const source = openSource(`oci:${layout}:t`);
    const empty = await openImage(`oci:${layout}:t`, { upper: {} });
    try {
      await expect(commitUpper(empty, { to: `oci:${layout}:empty`, source, resolved: await source.resolve() })).rejects.toMatchObject({ code: 'FailedPrecondition' });
      const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: { annotations?: Record<string, string> }[] };
      expect(index.manifests.some((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'empty')).toBe(false);
    } finally {
      await empty.close();
      await source.close();
    }
  });

  it('builds the new layer\'s seekable index when asked, over the same entries', async () => {
    const saved: { digest: string; bytes: Uint8Array }[] = [];
    const source = openSource(`oci:${layout}:t`);
    try {
      const result = await commitUpper(fs, {
        to: `oci:${layout}:t5`, source, resolved: await source.resolve(), created: new Date(0), indexSpan: 64 * 1024,
        indexStore: { save: async (layer, bytes) => { saved.push({ digest: layer.digest, bytes }); } },
      });
      expect(saved.map((x) => x.digest)).toEqual([result.layer.digest]);
      expect(result.indexSize).toBe(saved[0]!.bytes.length);
      expect(openIndex(saved[0]!.bytes).entryCount).toBe(result.entries);
    } finally {
      await source.close();
    }
  });

  it('imagefs commit (CLI) writes the same layer from the upper directory after a restart, and refuses a foreign upper', async () => {
    await fs.sync();
    const r = await runCliCapture('commit', `oci:${layout}:t`, '--upper', join(tmp.dir, 'upper'), '--to', `oci:${layout}:t3`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
    const t3 = await openImage(`oci:${layout}:t3`);
    try {
      expect(diffTrees(shown, await imageFsTree(t3), { mtime: true, links: true })).toEqual([]);
    } finally {
      await t3.close();
    }
    const bad = await runCliCapture('commit', `oci:${layout}:t`, '--upper', layout, '--to', `oci:${layout}:t4`);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/not an imagefs upper/);
    const usage = await runCliCapture('commit', `oci:${layout}:t`, '--to', `oci:${layout}:t4`);
    expect(usage.code).toBe(2);
  }, 60_000);
});
