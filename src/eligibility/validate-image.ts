import { invalidArgument } from '../errors/image-fs-error.js';
import { parseDigest } from '../image/digest.js';
import type { Descriptor, ResolvedImage } from '../image/types.js';

const HINT = 'the image is malformed; rebuild it or copy it again (e.g. `skopeo copy`)';

function checkDescriptorShape(descriptor: Descriptor, where: string): void {
  parseDigest(descriptor.digest, where);
  if (!Number.isSafeInteger(descriptor.size) || descriptor.size < 0) {
    throw invalidArgument(`${where} (${descriptor.digest}) has size ${String(descriptor.size)}, which is not a byte count`, {
      subject: descriptor.digest,
      hint: HINT,
    });
  }
  if (typeof descriptor.mediaType !== 'string' || descriptor.mediaType === '') {
    throw invalidArgument(`${where} (${descriptor.digest}) has no media type`, { subject: descriptor.digest, hint: HINT });
  }
}

/**
 * Checks what a full pull and the eligibility rules rely on, whichever source resolved the image:
 * every layer descriptor has a sha256/sha512 digest, a byte size and a media type; the config
 * lists exactly one diff_id per layer and each is a valid digest. An image converted from a Docker
 * schema 1 manifest (`schema1: true`) has no diff_ids at all and is accepted without them (its
 * layers are still checked against their blob digests when downloaded).
 *
 * What it does not check (the downloads do, with `DataLoss`): that blobs match their digest and
 * that descriptor sizes are true.
 *
 * @param image - a resolved image (from a registry or a layout).
 * @throws ImageError `InvalidArgument` naming the descriptor or config at fault.
 *
 * @example
 * ```ts
 * validateResolvedImage(await source.resolve()); // throws on a config with too few diff_ids
 * ```
 */
export function validateResolvedImage(image: ResolvedImage): void {
  const manifest = `manifest ${image.digest}`;
  image.layers.forEach((layer, i) => checkDescriptorShape(layer, `layer ${i} of ${manifest}`));
  const configWhere = `config ${image.manifest.config.digest} of ${manifest}`;
  const diffIds = image.config.rootfs?.diff_ids;
  // Schema 1 has no diff_ids: its synthesised config lists none, and layers are verified by blob digest only.
  if (image.schema1 === true && Array.isArray(diffIds) && diffIds.length === 0) return;
  if (!Array.isArray(diffIds)) {
    throw invalidArgument(`${configWhere} has no rootfs.diff_ids`, { subject: image.manifest.config.digest, hint: HINT });
  }
  if (diffIds.length !== image.layers.length) {
    throw invalidArgument(`${configWhere} lists ${diffIds.length} diff_ids but the manifest has ${image.layers.length} layers`, {
      subject: image.manifest.config.digest,
      hint: HINT,
    });
  }
  diffIds.forEach((d, i) => {
    if (typeof d !== 'string') {
      throw invalidArgument(`${configWhere} rootfs.diff_ids[${i}] is not a string`, { subject: image.manifest.config.digest, hint: HINT });
    }
    parseDigest(d, `${configWhere} rootfs.diff_ids[${i}]`);
  });
}
