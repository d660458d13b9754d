// A separate process for test/inflate-fallback.test.ts, started with a preload that breaks Node's
// zlib handle for Z_BLOCK only (as a Node release changing the internals might): opens an OCI
// layout lazily (its gzip layer indexed on the fly), reads PATH, and prints one JSON line: whether
// the layer was read lazily, the inflate engine, the fallback warning and the file's sha256. Usage: tsx test/inflate-fallback-child.ts REF PATH
import { createHash } from 'node:crypto';
import { inflateEngine, onInflateFallback } from '../src/gzip/inflater.js';
import { openImage } from '../src/open/open-image.js';

const [ref, path] = process.argv.slice(2) as [string, string];
const warnings: string[] = [];
process.on('warning', (w: Error & { code?: string }) => warnings.push(`${w.code}: ${w.message}`));
const heard: string[] = [];
onInflateFallback((s) => heard.push(`${s.engine}: ${s.reason}`));
const events: string[] = [];
const fs = await openImage(ref, { platform: { os: 'linux', architecture: 'amd64' }, indexing: 'on-the-fly', minLazyLayerSize: 0, onImageEvent: (e) => events.push(JSON.stringify(e)) });
const bytes = await fs.readFile(path);
await fs.close();
await new Promise((resolve) => setImmediate(resolve)); // process warnings are emitted on the next tick
const lazy = events.some((e) => e.includes('indexed-now'));
process.stdout.write(`${JSON.stringify({ lazy, engine: inflateEngine(), heard, warnings, sha256: createHash('sha256').update(bytes).digest('hex'), length: bytes.length })}\n`);
