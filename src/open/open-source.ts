import type { ImageSource } from '../image/types.js';
import { parseImageRef } from '../layout/image-ref.js';
import { OciLayoutSource } from '../layout/oci-layout-source.js';
import { RegistrySource } from '../registry/registry-source.js';
import type { RegistryClientOptions } from '../registry/options.js';

/**
 * Makes the {@link ImageSource} a reference names: `oci:DIR[:TAG]` is a local OCI layout,
 * anything else a registry reference in Docker's grammar.
 *
 * @param ref - the reference, for instance `oci:./layout:latest` or `127.0.0.1:5000/app:1`
 * @param options - registry client options (credentials, auth file, mirrors, insecure, ...)
 * @throws ImageError `InvalidArgument` for a malformed reference
 */
export function openSource(ref: string, options: RegistryClientOptions = {}): ImageSource {
  const parsed = parseImageRef(ref);
  if (parsed.kind === 'oci') return OciLayoutSource.fromRef(parsed);
  return new RegistrySource(parsed.text, options);
}
