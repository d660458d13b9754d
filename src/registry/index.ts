/**
 * The registry client: references, manifests, blobs, auth, mirrors, retries, uploads, referrers.
 *
 * @module
 */
export { RegistryClient, type ReferenceLike, type FetchManifestOptions } from './client.js';
export { RegistrySource, type RegistrySourceOptions } from './registry-source.js';
export { RegistryBlob } from './blob-source.js';
export type { RegistryClientOptions, RegistryEvent, CredentialsProvider } from './options.js';
export type { TransportStats } from './transport.js';
export type { FetchedManifest, ManifestKind, Schema1Manifest } from './manifest.js';
export type { PutBlobOptions, PutManifestOptions } from './push.js';
export { referrersTag, type ReferrersOptions } from './referrers.js';
export {
  parseReference, formatReference, manifestReference, isLoopbackHost, isSha256Digest, apiHost,
  DOCKER_HUB, DOCKER_HUB_API_HOST, type ImageReference,
} from './reference.js';
export {
  defaultAuthFilePath, loadAuthConfig, parseAuthConfig, credentialsFromAuths, normaliseAuthKey,
  type Credentials, type DockerAuthConfig,
} from './auth-file.js';
export { runCredentialHelper, type CredentialHelperOptions } from './cred-helper.js';
export { parseChallenges, type AuthChallenge } from './challenge.js';
export { redactUrl, redactText } from './redact.js';
export { parseDiagnostics, codeForStatus } from './error-map.js';
export { parseRegistriesConf, readRegistriesConf, registriesConfPath, mirrorUrl } from './registries-conf.js';
export { MirrorFillingError } from './blob-fetch.js';
