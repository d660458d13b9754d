/**
 * Linux file capabilities as stored in the `security.capability` xattr (`struct vfs_ns_cap_data`,
 * revision 2: a 4-byte magic then permitted/inheritable words for capabilities 0-31 and 32-63,
 * all little-endian; 20 bytes).
 */

/** Capability numbers from `linux/capability.h` that tests commonly use. */
export const Cap = {
  CHOWN: 0,
  DAC_OVERRIDE: 1,
  FOWNER: 3,
  SETGID: 6,
  SETUID: 7,
  NET_BIND_SERVICE: 10,
  NET_ADMIN: 12,
  NET_RAW: 13,
  SYS_CHROOT: 18,
  SYS_ADMIN: 21,
} as const;

const VFS_CAP_REVISION_2 = 0x02000000;
const VFS_CAP_FLAGS_EFFECTIVE = 0x000001;

/** Options of {@link capabilityXattr}. */
export interface CapabilityOptions {
  /** Set the effective flag (as `setcap cap_net_raw+ep` does). Default true. */
  effective?: boolean;
  /** Capabilities also put in the inheritable set. Default none. */
  inheritable?: readonly number[];
}

/**
 * Encodes a `security.capability` value (v2, 20 bytes) giving the `permitted` capabilities.
 *
 * @example
 * ```ts
 * file('bin/ping', bytes, { mode: 0o755, xattrs: { 'security.capability': capabilityXattr([Cap.NET_RAW]) } });
 * // = 01 00 00 02 00 20 00 00 00 00 00 00 00 00 00 00 00 00 00 00  (setcap cap_net_raw+ep)
 * ```
 */
export function capabilityXattr(permitted: readonly number[], options: CapabilityOptions = {}): Uint8Array {
  const words = [0, 0, 0, 0]; // permitted lo, inheritable lo, permitted hi, inheritable hi
  const set = (caps: readonly number[], which: 0 | 1): void => {
    for (const cap of caps) {
      if (!Number.isInteger(cap) || cap < 0 || cap > 63) throw new TypeError(`capability ${cap} is not in 0..63`);
      const idx = (cap >= 32 ? 2 : 0) + which;
      words[idx] = (words[idx]! | (1 << (cap % 32))) >>> 0;
    }
  };
  set(permitted, 0);
  set(options.inheritable ?? [], 1);
  const out = new Uint8Array(20);
  const view = new DataView(out.buffer);
  const magic = VFS_CAP_REVISION_2 | (options.effective === false ? 0 : VFS_CAP_FLAGS_EFFECTIVE);
  view.setUint32(0, magic >>> 0, true);
  words.forEach((w, i) => view.setUint32(4 + i * 4, w, true));
  return out;
}
