// A separate process for test/lazy-registry.test.ts: opens an image lazily (indexes from the
// registry), prints its events as one JSON line, waits for a line on stdin, then reads PATH and
// prints its sha256 and length. Usage: tsx test/lazy-child.ts REF PATH
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { openImage } from '../src/open/open-image.js';
import type { ImageFsEvent } from '../src/open/events.js';

const [ref, path] = process.argv.slice(2) as [string, string];
const events: ImageFsEvent[] = [];
const fs = await openImage(ref, { platform: { os: 'linux', architecture: 'amd64' }, onImageEvent: (e) => events.push(e) });
process.stdout.write(`${JSON.stringify({ ready: true, events })}\n`);
const lines = createInterface({ input: process.stdin });
for await (const _line of lines) break;
try {
  const bytes = await fs.readFile(path);
  process.stdout.write(`${JSON.stringify({ sha256: createHash('sha256').update(bytes).digest('hex'), length: bytes.length })}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ error: String(error), code: (error as { code?: string }).code })}\n`);
}
await fs.close();
