import { invalidArgument } from '../errors/image-fs-error.js';

/** A reference to an image in a local OCI image layout: `oci:DIR[:TAG]`. */
export interface OciLayoutRef {
  kind: 'oci';
  /** The layout directory, as given (relative paths are relative to the working directory). */
  dir: string;
  /** The `org.opencontainers.image.ref.name` to pick, when given. */
  tag?: string;
}

/**
 * A registry reference, kept as text: `src/registry/` parses Docker's grammar
 * (`[HOST[:PORT]/]PATH[:TAG][@DIGEST]`).
 */
export interface RegistryRefText {
  kind: 'registry';
  text: string;
}

/** What {@link parseImageRef} returns. */
export type ImageRef = OciLayoutRef | RegistryRefText;

/** The prefix of local layout references. */
export const OCI_PREFIX = 'oci:';

/**
 * Splits an image reference by its transport. `oci:DIR[:TAG]` names an OCI image layout (as
 * skopeo and umoci name it); anything else is a registry reference, returned as text.
 *
 * DIR may itself contain `:`. The tag is what follows the **last** `:`, and only when that
 * text contains no `/`; otherwise the whole rest is DIR. So `oci:/tmp/a:b/lay` is the directory
 * `/tmp/a:b/lay` with no tag, and `oci:/tmp/lay:v1` is `/tmp/lay` with tag `v1`. To name a
 * directory whose last component contains `:` without a tag, end it with `/`
 * (`oci:/tmp/lay:x/`).
 *
 * @throws ImageError `InvalidArgument` for an empty reference, an empty DIR or an empty TAG.
 *
 * @example
 * ```ts
 * parseImageRef('oci:./layout:v1');   // { kind: 'oci', dir: './layout', tag: 'v1' }
 * parseImageRef('oci:./layout');      // { kind: 'oci', dir: './layout' }
 * parseImageRef('alpine:3.20');       // { kind: 'registry', text: 'alpine:3.20' }
 * ```
 */
export function parseImageRef(text: string): ImageRef {
  if (text === '') {
    throw invalidArgument('the image reference is empty', { hint: "give oci:DIR[:TAG] or a registry reference such as alpine:3.20" });
  }
  if (!text.startsWith(OCI_PREFIX)) return { kind: 'registry', text };
  const rest = text.slice(OCI_PREFIX.length);
  const colon = rest.lastIndexOf(':');
  let dir = rest;
  let tag: string | undefined;
  if (colon >= 0 && !rest.slice(colon + 1).includes('/')) {
    dir = rest.slice(0, colon);
    tag = rest.slice(colon + 1);
    if (tag === '') {
      throw invalidArgument(`reference '${text}' ends with ':' but names no tag`, {
        subject: text,
        hint: 'write oci:DIR:TAG, or oci:DIR to use the only image of the layout',
      });
    }
  }
  if (dir === '') {
    throw invalidArgument(`reference '${text}' names no layout directory`, { subject: text, hint: 'write oci:DIR[:TAG]' });
  }
  return tag === undefined ? { kind: 'oci', dir } : { kind: 'oci', dir, tag };
}
