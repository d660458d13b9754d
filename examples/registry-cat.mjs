#!/usr/bin/env node
// Read one file of a registry image lazily and say how it was served.
//
//   npm run build && node examples/registry-cat.mjs 127.0.0.1:5000/app:1 /etc/os-release
//
// With an index stored next to the image (`imagefs index --push REF`), only the spans holding
// the file travel; without one, the events say why each layer was pulled whole instead.
import { openImage } from '../dist/index.js';

const [ref, path] = process.argv.slice(2);
if (!ref || !path) {
  console.error('usage: node examples/registry-cat.mjs REF PATH');
  process.exit(2);
}
let requests = 0;
const fs = await openImage(ref, {
  onEvent: (e) => { if (e.type === 'request') requests++; },
  onImageEvent: (e) => {
    if (e.type === 'layer') console.error(`layer ${e.position} ${e.digest.slice(0, 19)}: ${e.mode} (${e.how})${e.why ? `: ${e.why}` : ''}`);
    if (e.type === 'fallback') for (const r of e.reasons) console.error(`fallback ${r.code}: ${r.message} (fix: ${r.fix})`);
  },
});
try {
  process.stdout.write(await fs.readFile(path));
} finally {
  await fs.close();
}
console.error(`${requests} registry requests`);
