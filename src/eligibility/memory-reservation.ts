const GiB = 1024 ** 3;

/** GKE's tiers: [upper bound of the tier in bytes, fraction reserved of the bytes in that tier]. */
const TIERS: ReadonlyArray<readonly [number, number]> = [
  [4 * GiB, 0.01],
  [8 * GiB, 0.008],
  [16 * GiB, 0.004],
  [128 * GiB, 0.0024],
  [Number.POSITIVE_INFINITY, 0.0008],
];

/**
 * The memory GKE reserves for image streaming on a node of `totalBytes` of memory, in bytes:
 * nothing below 1 GiB; else 1% of the first 4 GiB, 0.8% of the next 4 GiB, 0.4% of the next
 * 8 GiB, 0.24% of the next 112 GiB and 0.08% of everything above 128 GiB. imagefs uses it as the
 * default memory budget of its caches.
 *
 * @param totalBytes - the machine's memory in bytes (for instance `os.totalmem()`)
 * @returns the reservation in whole bytes (rounded down)
 * @example
 * ```ts
 * imageStreamingMemoryReservation(8 * 1024 ** 3); // 77309411 (≈ 73.7 MiB: 1% of 4 GiB + 0.8% of 4 GiB)
 * ```
 */
export function imageStreamingMemoryReservation(totalBytes: number): number {
  if (!Number.isFinite(totalBytes) || totalBytes < 0) {
    throw new TypeError(`totalBytes must be a non-negative finite number of bytes, got ${totalBytes}`);
  }
  if (totalBytes < GiB) return 0;
  let reserved = 0;
  let lower = 0;
  for (const [upper, fraction] of TIERS) {
    if (totalBytes <= lower) break;
    reserved += (Math.min(totalBytes, upper) - lower) * fraction;
    lower = upper;
  }
  return Math.floor(reserved);
}
