/**
 * Local OCI image layouts (`oci:DIR[:TAG]`): reference parsing, the layout reader and its blob store.
 *
 * @packageDocumentation
 */
export { OciLayoutSource, type OciLayoutSourceOptions } from './oci-layout-source.js';
export { parseImageRef, OCI_PREFIX, type ImageRef, type OciLayoutRef, type RegistryRefText } from './image-ref.js';
export { LayoutBlobStore, MAX_METADATA_BLOB } from './blob-store.js';
export { parseDigest, computeDigest, verifyDigest, type DigestAlgorithm, type ParsedDigest } from '../image/digest.js';
export { REF_NAME_ANNOTATION } from './layout-index.js';
