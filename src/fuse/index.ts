/**
 * `imagefs/fuse`: serve any {@link FsTree} (an opened image's `tree`) as a FUSE mount (read-write for a writable tree),
 * speaking the kernel protocol over /dev/fuse from TypeScript. Linux only; mounting needs root.
 * Not loaded by the root `imagefs` import.
 *
 * @example
 * ```ts
 * import { openImage } from 'imagefs';
 * import { mount } from 'imagefs/fuse';
 * const image = await openImage('oci:./layout:latest');
 * const m = await mount(image.tree, '/mnt/image');
 * await m.closed; // until `umount /mnt/image`
 * ```
 *
 * @packageDocumentation
 */
export { mount, FuseMount, type FuseMountOptions, type FuseEvent, type FuseMountEvents } from './mount.js';
export { clearStaleMount, isStaleMount, mountAt, readMountTable, type MountInfo } from './mount-table.js';
export { errnoOf } from './errno.js';
export type { FsTree } from '../tree/types.js';
