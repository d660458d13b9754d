#!/usr/bin/env node
// Mount an image read-only with FUSE until SIGINT/SIGTERM (or `umount MOUNTPOINT`). Run as root.
//
//   npm run build && sudo node examples/fuse-mount.mjs oci:./layout:latest /mnt/image
//
// The same as `imagefs mount REF MOUNTPOINT`, in a dozen lines: open the image, mount its tree.
import { openImage } from 'imagefs';
import { mount } from 'imagefs/fuse';

const [ref, mountpoint] = process.argv.slice(2);
if (!ref || !mountpoint) {
  console.error('usage: node examples/fuse-mount.mjs REF MOUNTPOINT');
  process.exit(2);
}
const image = await openImage(ref);
const mounted = await mount(image.tree, mountpoint, { onEvent: (e) => console.error(`${e.type} ${e.mountpoint}`) });
const stop = () => mounted.unmount({ lazy: true }).catch((e) => console.error(e.message));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
await mounted.closed; // whoever unmounted it
await image.close();
