import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, buildImageIndex, dir, file, randomBytes, type BuiltImage } from '../src/testing/builder/index.js';
import { BINARY_SIZE, layoutWith, singleLayerImage, tempDir } from './layout-fixtures.js';
import { bundleCliInto } from './helpers/oracle-cli.js';
import { runCliCapture } from './helpers/run-cli.js';
import { testHome } from './helpers/test-home.js';

interface Result { code: number; stdout: Buffer; stderr: string }

/** Runs the CLI in this process. */
async function cli(...argv: string[]): Promise<Result> {
  const r = await runCliCapture(...argv);
  return { code: r.code, stdout: r.stdoutBytes, stderr: r.stderr };
}

let bundle: string;

/**
 * Bundles src/cli/main.ts as tsup does (esbuild, ESM, shebang banner) next to a copy of
 * package.json, so the spawned executable is the shape `npm run build` ships, without tsx's
 * start-up cost on every spawn.
 */
const root = join(__dirname, '..');
// Inside the repository, so that the bundle's external dependencies resolve from node_modules as
// they do for the published package (tsup also leaves dependencies external).
const bundleDir = join(root, `.test-build-${process.pid}`);

async function buildBundle(): Promise<string> {
  return bundleCliInto(bundleDir);
}

/** Runs the bundled executable directly (its shebang picks node). */
function spawnCli(...argv: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(bundle, argv, { env: { ...process.env, ...testHome() } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() }));
  });
}

/** Asserts a runtime failure: exit 1, nothing on stdout, one `imagefs: CODE: ...` line on stderr. */
function expectFailure(r: Result, code: string): void {
  expect(r.stdout.length).toBe(0);
  expect(r.stderr.endsWith('\n')).toBe(true);
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(new RegExp(`^imagefs: ${code}: `));
  expect(r.code).toBe(1);
}

function expectUsage(r: Result): void {
  expect(r.code).toBe(2);
  expect(r.stderr.trimEnd().split('\n').at(-1)).toMatch(/^imagefs: usage: .* \(see 'imagefs (--help|help \w+)'\)$/);
}

let tmp: Awaited<ReturnType<typeof tempDir>>;
let image: BuiltImage;
let ref: string;
let multiRef: string;
let twoLayerRef: string;

beforeAll(async () => {
  tmp = await tempDir('cli');
  bundle = await buildBundle();
  image = await singleLayerImage();
  const two = await buildImage({ layers: [{ entries: [dir('a')] }, { entries: [file('a/b', 'b')] }] });
  const arm = await buildImage({ layers: [{ entries: [file('arch', 'arm64')] }], platform: { os: 'linux', architecture: 'arm64' } });
  const amd = await buildImage({ layers: [{ entries: [file('arch', 'amd64')] }], platform: { os: 'linux', architecture: 'amd64' } });
  const path = await layoutWith(join(tmp.path, 'lay'), [
    { image, tag: 'one' }, { image: two, tag: 'two' }, { image: buildImageIndex([amd, arm]), tag: 'multi' },
  ]);
  ref = `oci:${path}:one`;
  multiRef = `oci:${path}:multi`;
  twoLayerRef = `oci:${path}:two`;
});
afterAll(async () => {
  await tmp.cleanup();
  await rm(bundleDir, { recursive: true, force: true });
});

describe('imagefs executable', () => {
  it('--help lists every command and global option, exit 0', async () => {
    const r = await spawnCli('--help');
    expect(r.code).toBe(0);
    const text = r.stdout.toString();
    for (const cmd of ['inspect', 'check', 'index', 'ls', 'cat', 'stat', 'export', 'mount']) expect(text).toMatch(new RegExp(`^  ${cmd} `, 'm'));
    for (const opt of ['--platform', '--creds', '--auth-file', '--cache', '--no-cache', '--insecure', '--json', '--quiet', '--debug', '--version']) {
      expect(text).toContain(opt);
    }
    expect(r.stderr).toBe('');
  });

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
    const r = await spawnCli('--version');
    expect([r.code, r.stdout.toString()]).toEqual([0, `imagefs ${version}\n`]);
  });

  it('cat writes the exact bytes and nothing else', async () => {
    const r = await spawnCli('cat', ref, '/bin/busybox');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout.equals(Buffer.from(randomBytes(3, BINARY_SIZE)))).toBe(true);
  });

  it('a runtime failure exits 1 with one line on stderr; --debug adds the stack', async () => {
    const r = await spawnCli('stat', ref, '/nope');
    expectFailure(r, 'ENOENT');
    expect(r.stderr).toContain("lstat '/nope'");
    const d = await spawnCli('--debug', 'stat', ref, '/nope');
    expect(d.code).toBe(1);
    expect(d.stderr.split('\n')[0]).toMatch(/^imagefs: ENOENT: /);
    expect(d.stderr).toMatch(/\n\s+at /);
  });

  it('usage errors exit 2', async () => {
    expectUsage(await spawnCli('frobnicate'));
    expectUsage(await spawnCli());
  });
});

describe('imagefs commands (in process)', () => {
  it('help CMD and CMD --help describe the command and its options', async () => {
    const a = await cli('help', 'ls');
    const b = await cli('ls', '--help');
    expect(a.code).toBe(0);
    expect(a.stdout.toString()).toBe(b.stdout.toString());
    expect(a.stdout.toString()).toMatch(/Usage: imagefs ls REF \[PATH\] \[-l\] \[-R\]/);
    expect(a.stdout.toString()).toContain('--recursive');
    expect((await cli('help', 'index')).stdout.toString()).toContain('--span BYTES');
    expectUsage(await cli('help', 'nope'));
  });

  it('inspect prints digest, media type, platform and layers; --json has the shape', async () => {
    const text = (await cli('inspect', ref)).stdout.toString();
    expect(text).toContain(`digest:     ${image.descriptor.digest}`);
    expect(text).toContain('platform:   linux/amd64');
    expect(text).toContain(`  ${image.layers[0]!.descriptor.digest}  application/vnd.oci.image.layer.v1.tar+gzip  ${image.layers[0]!.blob.length}`);
    const r = await cli('inspect', '--json', ref);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.toString())).toEqual({
      reference: ref,
      digest: image.descriptor.digest,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      platform: { os: 'linux', architecture: 'amd64' },
      config: { digest: image.manifest.config.digest, mediaType: 'application/vnd.oci.image.config.v1+json', size: image.configBytes.length },
      layers: [{ digest: image.layers[0]!.descriptor.digest, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', size: image.layers[0]!.blob.length }],
    });
  });

  it('inspect --platform picks from an index and lists the platforms when absent', async () => {
    const arm = JSON.parse((await cli('inspect', '--json', '--platform', 'linux/arm64', multiRef)).stdout.toString());
    expect(arm.platform).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(arm.indexDigest).toMatch(/^sha256:/);
    const r = await cli('inspect', '--platform=linux/ppc64le', multiRef);
    expectFailure(r, 'NotFound');
    expect(r.stderr).toContain('linux/amd64, linux/arm64');
    expectUsage(await cli('inspect', '--platform', 'linux', multiRef));
  });

  it('ls lists names in byte order, hides whiteouts, follows a symlinked PATH', async () => {
    expect((await cli('ls', ref)).stdout.toString()).toBe('bin\ndata\netc\nusrbin\n');
    expect((await cli('ls', ref, '/etc')).stdout.toString()).toBe('hostname\n');
    expect((await cli('ls', ref, 'usrbin')).stdout.toString()).toBe('busybox\nping\nping6\nsh\n');
    expect((await cli('ls', ref, '/etc/hostname')).stdout.toString()).toBe('/etc/hostname\n');
  });

  it('ls -l prints ls -l-like lines', async () => {
    const lines = (await cli('ls', '-l', ref, '/bin')).stdout.toString().trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatch(/^-rwsr-xr-x 2 0 0 +4 2023-11-14 22:13 ping$/);
    expect(lines[3]).toMatch(/^lrwxrwxrwx 1 0 0 +12 2023-11-14 22:13 sh -> \/bin\/busybox$/);
    expect((await cli('ls', '-l', ref, '/usrbin')).stdout.toString()).toMatch(/^lrwxrwxrwx .* \/usrbin -> bin\n$/);
  });

  it('names that are not UTF-8 print as their bytes in text, as \\u escapes of their raw-name form in JSON, and stat reaches them', async () => {
    const raw = Buffer.from([0x6e, 0xe9, 0xff]);
    const img = await buildImage({ layers: [{ entries: [dir('d'), file(Buffer.concat([Buffer.from('d/'), raw]), 'raw', { mtimeNs: 1_700_000_000_123_456_789n })] }] });
    const lay = await layoutWith(join(tmp.path, 'raw-lay'), [{ image: img, tag: 'raw' }]);
    const names = await cli('ls', `oci:${lay}:raw`, '/d');
    expect(names.stdout).toEqual(Buffer.concat([raw, Buffer.from('\n')]));
    const json = JSON.parse((await cli('ls', '-R', '--json', `oci:${lay}:raw`, '/d')).stdout.toString()) as { path: string; mtimeNs: string }[];
    expect(json.map((s) => [s.path, s.mtimeNs])).toEqual([['/d/n\udce9\udcff', '1700000000123456789']]);
    const stat = JSON.parse((await cli('stat', '--json', `oci:${lay}:raw`, '/d/n\udce9\udcff')).stdout.toString()) as { size: number };
    expect(stat.size).toBe(3);
  });

  it('ls -R --json is an array of stat objects of every path under PATH', async () => {
    const r = await cli('ls', '-R', '--json', ref, '/');
    const all = JSON.parse(r.stdout.toString()) as Array<Record<string, unknown>>;
    expect(all.map((s) => s['path'])).toEqual([
      '/bin', '/bin/busybox', '/bin/ping', '/bin/ping6', '/bin/sh', '/data', '/data/deep', '/data/deep/x.txt', '/etc', '/etc/hostname', '/usrbin',
    ]);
    for (const s of all) expect(Object.keys(s).sort()).toEqual(expect.arrayContaining(['gid', 'mode', 'mtime', 'mtimeNs', 'nlink', 'path', 'size', 'type', 'uid', 'xattrs']));
    expect(all.find((s) => s['path'] === '/data')).toEqual({ path: '/data', type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 4096, mtime: 0, mtimeNs: '0', nlink: 3, xattrs: {} });
    const text = (await cli('ls', '-lR', ref, '/data')).stdout.toString();
    expect(text).toMatch(/^drwxr-xr-x .* \/data\/deep\n-rw-r--r-- .* \/data\/deep\/x\.txt\n$/);
  });

  it('stat prints the contract JSON, xattrs in base64', async () => {
    const ping = JSON.parse((await cli('stat', '--json', ref, '/bin/ping')).stdout.toString());
    const cap = Buffer.from([1, 0, 0, 2, 0, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).toString('base64');
    expect(ping).toEqual({ path: '/bin/ping', type: 'file', mode: 0o4755, uid: 0, gid: 0, size: 4, mtime: 1_700_000_000, mtimeNs: '1700000000000000000', nlink: 2, xattrs: { 'security.capability': cap } });
    const sh = JSON.parse((await cli('stat', ref, '/bin/sh', '--json')).stdout.toString());
    expect(sh).toMatchObject({ type: 'symlink', linkTarget: '/bin/busybox', size: 12 });
    const text = (await cli('stat', ref, 'etc/hostname')).stdout.toString();
    expect(text).toContain('mode:   0640 (-rw-r-----)');
    expect(text).toContain('uid:    7');
    expect(text).toContain('mtime:  1600000000.000000000 (2020-09-13 12:26 UTC)');
  });

  it('cat follows symlinks inside the image and refuses directories', async () => {
    expect((await cli('cat', ref, '/bin/sh')).stdout.length).toBe(BINARY_SIZE);
    expect((await cli('cat', ref, '/usrbin/ping6')).stdout.toString()).toBe('PING');
    expectFailure(await cli('cat', ref, '/etc'), 'EISDIR');
    expectFailure(await cli('cat', ref, '/etc/hostname/x'), 'ENOTDIR');
  });

  it('image errors exit 1 with the code, the file and the fix', async () => {
    const r = await cli('ls', ref.replace(':one', ':zzz'));
    expectFailure(r, 'NotFound');
    expect(r.stderr).toMatch(/no image tagged 'zzz' \(tags: one, two, multi\) \(use one of the listed tags/);
    expectFailure(await cli('inspect', `oci:${tmp.path}/missing`), 'NotFound');
  });

  it('ls and cat show the merge of several layers', async () => {
    const top = await cli('ls', twoLayerRef, '/a');
    expect(top.code).toBe(0);
    expect(top.stdout.toString()).toBe('b\n');
    expect((await cli('cat', twoLayerRef, '/a/b')).stdout.toString()).toBe('b');
  });

  it('export writes the merged tree, and refuses a non-empty DIR without writing', async () => {
    const out = join(tmp.path, 'export-out');
    const r = await cli('export', twoLayerRef, out);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toMatch(/exported to .*: 1 dirs, 1 files \(1 bytes\)/);
    expect(await readFile(join(out, 'a/b'), 'utf8')).toBe('b');
    const again = await cli('export', ref, out);
    expectFailure(again, 'ENOTEMPTY');
    expect((await readdir(out)).sort()).toEqual(['a']);
  });

  it('mount --upper without --writable is a usage error', async () => {
    const r = await cli('mount', ref, tmp.path, '--upper', join(tmp.path, 'upper'));
    expectUsage(r);
    expect(r.stderr).toContain('--writable');
  });

  it('usage errors exit 2 naming the problem', async () => {
    for (const argv of [['ls'], ['cat', ref], ['stat', ref, '/', 'extra'], ['ls', ref, '--bogus'], ['ls', '-x', ref], ['inspect', ref, '--json=yes'],
      ['inspect', ref, '--creds', 'nocolon'], ['inspect', ref, '--cache', '/tmp/c', '--no-cache'], ['inspect', ref, '--platform']]) {
      const r = await cli(...argv);
      expectUsage(r);
      expect(r.stdout.length).toBe(0);
    }
    expect((await cli('ls', ref, '--bogus')).stderr).toContain("unknown option --bogus for 'ls'");
  });
});
