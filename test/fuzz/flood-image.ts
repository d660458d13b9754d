// Metadata floods as one-layer OCI layouts, generated without holding the tar in memory: the
// layer is a series of gzip members, each the compression of one repeated chunk of the tar.
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { concatBytes, encodeHeader, extendedHeader } from '../../src/testing/builder/index.js';

/** A layer blob with its digests. */
export interface FloodLayer {
  blob: Uint8Array;
  diffId: string;
  /** Uncompressed tar size, bytes. */
  tarSize: number;
}

function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** A plain ustar file entry with its data, padded. */
export function fileRecord(name: string, data: Uint8Array): Uint8Array {
  const header = encodeHeader({ name, mode: 0o644, uid: 0, gid: 0, size: data.length, mtime: 1_700_000_000, typeflag: '0', format: 'ustar' });
  const pad = new Uint8Array((512 - (data.length % 512)) % 512);
  return concatBytes([header, data, pad]);
}

/**
 * A layer made of `count` copies of `unit` (repeated in gzip members of `perMember` copies), then
 * `tail` and the end-of-archive blocks. Memory: one member's worth of tar at a time.
 */
export function repeatedLayer(unit: Uint8Array, count: number, tail: Uint8Array, perMember = 1024): FloodLayer {
  const diff = createHash('sha256');
  const members: Uint8Array[] = [];
  const chunk = concatBytes(Array.from({ length: Math.min(perMember, count) }, () => unit));
  const full = gzipSync(chunk, { level: 1 });
  let left = count;
  while (left > 0) {
    const n = Math.min(perMember, left);
    if (n === perMember || n === count) {
      members.push(full);
      diff.update(chunk);
    } else {
      const part = chunk.subarray(0, n * unit.length);
      members.push(gzipSync(part, { level: 1 }));
      diff.update(part);
    }
    left -= n;
  }
  const end = concatBytes([tail, new Uint8Array(1024)]);
  members.push(gzipSync(end));
  diff.update(end);
  return { blob: concatBytes(members), diffId: `sha256:${diff.digest('hex')}`, tarSize: count * unit.length + end.length };
}

/** `count` consecutive PAX `x` headers of one `recordBytes`-byte record each, then one file. */
export function paxFloodLayer(count: number, recordBytes = 1500): FloodLayer {
  const key = 'comment';
  const valueLength = recordBytes - `${recordBytes} ${key}=\n`.length;
  const record = new TextEncoder().encode(`${recordBytes} ${key}=${'A'.repeat(valueLength)}\n`);
  return repeatedLayer(extendedHeader(record), count, fileRecord('after-the-flood.txt', new TextEncoder().encode('dry\n')));
}

/** One global PAX header of `xattrs` SCHILY.xattr records, then `files` small files. */
export function globalXattrFloodLayer(xattrs: number, files: number): FloodLayer {
  const records = Array.from({ length: xattrs }, (_, i) => [`SCHILY.xattr.user.flood${i}`, `value-${i}`] as const);
  const global = extendedHeader(records, { type: 'g' });
  const parts: Uint8Array[] = [global];
  for (let i = 0; i < files; i++) parts.push(fileRecord(`f/${String(i).padStart(6, '0')}.txt`, new TextEncoder().encode(`file ${i}\n`)));
  const tar = concatBytes([...parts, new Uint8Array(1024)]);
  return { blob: gzipSync(tar, { level: 1 }), diffId: sha256(tar), tarSize: tar.length };
}

/** Writes an OCI layout holding one linux/amd64 image of `layer`, tagged `tag`. Returns `oci:DIR:TAG`. */
export async function writeFloodLayout(dir: string, layer: FloodLayer, tag = 'flood'): Promise<string> {
  const blobs = join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const put = async (bytes: Uint8Array): Promise<string> => {
    const digest = sha256(bytes);
    await writeFile(join(blobs, digest.slice(7)), bytes);
    return digest;
  };
  const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));
  const layerDigest = await put(layer.blob);
  const config = enc({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.diffId] }, config: {} });
  const configDigest = await put(config);
  const manifest = enc({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layer.blob.length }],
  });
  const manifestDigest = await put(manifest);
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifestDigest, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': tag }, platform: { architecture: 'amd64', os: 'linux' } }],
  }));
  return `oci:${dir}:${tag}`;
}
