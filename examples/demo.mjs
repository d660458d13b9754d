#!/usr/bin/env node
// The main job on the embedded default image: imagefs generates a three-layer image (a 40 MiB
// base of files, an app layer, a config layer with a whiteout) as a local OCI layout, indexes it
// once (as CI would after a push), then opens it lazily and reads one file, printing how many
// bytes of the image that took. No registry needed.
//
//   npm run demo            (builds first)     node examples/demo.mjs [DIR]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobCacheIndexCache, MemoryCache, OciLayoutSource, buildIndex, openImage } from '../dist/index.js';
import { buildImage, dir, file, symlink, whiteout, writeLayout } from '../dist/testing/index.js';

const MiB = 1024 * 1024;
const mib = (n) => `${(n / MiB).toFixed(2)} MiB`;

/** The embedded default image: deterministic, so every run shows the same tree. */
async function embeddedImage() {
  const base = [dir('etc'), dir('usr'), dir('usr/lib'), dir('usr/share'), dir('usr/share/doc')];
  for (let i = 0; i < 40; i++) base.push(file(`usr/lib/lib${i}.so`, { seed: i + 1, size: MiB }));
  base.push(file('etc/os-release', 'NAME="imagefs demo"\nID=imagefs\nVERSION_ID=1\n'), file('etc/motd', 'from the base layer\n'));
  const app = [dir('app'), file('app/hello.txt', 'Hello from a lazily streamed image!\n'), symlink('app/lib', '/usr/lib')];
  const config = [dir('etc'), file('etc/hostname', 'demo\n'), whiteout('etc/motd')];
  return buildImage({ layers: [{ entries: base }, { entries: app }, { entries: config }] });
}

/** An image source that counts the blob bytes read through it. */
function counting(source) {
  const counter = { bytes: 0, reads: 0 };
  const wrapped = {
    reference: source.reference,
    resolve: (o) => source.resolve(o),
    close: () => source.close(),
    async openBlob(descriptor, o) {
      const blob = await source.openBlob(descriptor, o);
      return {
        size: blob.size,
        async readAt(offset, length, ro) {
          counter.bytes += length;
          counter.reads += 1;
          return blob.readAt(offset, length, ro);
        },
        close: () => blob.close?.(),
      };
    },
  };
  return { source: wrapped, counter };
}

const work = process.argv[2] ?? (await mkdtemp(join(tmpdir(), 'imagefs-demo-')));
try {
  const layout = join(work, 'layout');
  const image = await embeddedImage();
  await writeLayout(layout, [{ image, tag: 'demo' }]);
  const ref = `oci:${layout}:demo`;
  const imageSize = image.layers.reduce((n, l) => n + l.descriptor.size, 0);
  console.log(`image ${ref}: ${image.layers.length} layers, ${mib(imageSize)} compressed`);

  // Index once: one pass over each layer, kept in a cache (a registry would keep it as a referrer).
  const indexCache = new BlobCacheIndexCache(new MemoryCache({ maxBytes: 64 * MiB }));
  const indexer = new OciLayoutSource(layout, { tag: 'demo' });
  const resolved = await indexer.resolve();
  for (const layer of resolved.layers) {
    const built = await buildIndex(await indexer.openBlob(layer), layer);
    await indexCache.put(layer.digest, built.bytes);
    console.log(`indexed ${layer.digest.slice(0, 19)}: ${built.stats.entries} entries, ${built.stats.checkpoints} checkpoints, index ${built.bytes.length} bytes`);
  }
  await indexer.close();

  // Stream: open lazily and read one file.
  const { source, counter } = counting(new OciLayoutSource(layout, { tag: 'demo' }));
  const events = [];
  const fs = await openImage(source, { indexCache, minLazyLayerSize: 0, onImageEvent: (e) => events.push(e) });
  console.log('\n$ ls /  ->', (await fs.readdir('/')).join('  '));
  console.log('$ ls /etc  ->', (await fs.readdir('/etc')).join('  '), '   (motd is whited out by the top layer)');
  process.stdout.write(`$ cat /app/hello.txt\n${await fs.readFile('/app/hello.txt', 'utf8')}`);
  process.stdout.write(`$ cat /etc/os-release\n${await fs.readFile('/etc/os-release', 'utf8')}`);
  const lib = await fs.stat('/app/lib/lib7.so');
  console.log(`$ stat /app/lib/lib7.so  -> ${lib.size} bytes (through a symlink into the base layer, not read)`);
  await fs.close();

  const layers = events.filter((e) => e.type === 'layer').map((e) => `${e.mode}/${e.how}`).join(', ');
  console.log(`\nlayers served: ${layers}`);
  console.log(`bytes read from the image: ${mib(counter.bytes)} in ${counter.reads} reads, of ${mib(imageSize)} (${((100 * counter.bytes) / imageSize).toFixed(1)}%)`);
} finally {
  if (process.argv[2] === undefined) await rm(work, { recursive: true, force: true });
}
