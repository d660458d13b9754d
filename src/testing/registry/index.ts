/**
 * The real-registry test bench: a CNCF distribution 2.8 registry started per test (no auth, Basic,
 * token, redirecting to a storage server, schema 1), a token issuer, push helpers, and a proxy that
 * injects faults between a client and the registry.
 *
 * @packageDocumentation
 */
export { startRegistry, type StartRegistryOptions, type TestRegistry } from './start-registry.js';
export { DEFAULT_TEST_USER, type RegistryCredentials } from './credentials.js';
export {
  startTokenIssuer,
  type TokenIssuer,
  type TokenIssuerOptions,
  type TokenUser,
  type RepositoryPermissions,
  type TokenRequestRecord,
} from './token-issuer.js';
export { signRegistryToken, decodeTokenClaims, type TokenAccess, type TokenClaims } from './jwt.js';
export { makeSigningCert, type SigningCert } from './signing-cert.js';
export { startBlobFileServer, storedBlobPath, type BlobFileServer, type BlobFileRequest } from './blob-file-server.js';
export { parseRange, type ResolvedRange } from './http-range.js';
export { registryConfig, type RegistryConfigInput } from './registry-config.js';
export { freePort } from './free-port.js';
export { listenLocal, type LocalServer } from './local-server.js';
export { authorizedRequest, registryError, type RegistryTarget, type AuthorizedRequestOptions } from './registry-auth.js';
export { pushBlob, pushManifest, type PushOptions, type PushedContent } from './push.js';
export { pushLayout, type PushLayoutOptions, type PushLayoutResult } from './push-layout.js';
export { pushSchema1, type PushSchema1Options, type PushedSchema1 } from './push-schema1.js';
export { startFaultProxy, type FaultProxy, type FaultProxyOptions, type ProxyCounters, type ProxiedRequestRecord } from './fault-proxy.js';
export {
  requestKind,
  matches,
  FaultState,
  FAULT_NAMES,
  emptyCounts,
  type Faults,
  type FaultName,
  type FaultScope,
  type RequestKind,
  type RequestMatcher,
  type ProxiedRequest,
} from './faults.js';
export { sendBody, type BodyPlan } from './fault-body.js';
export { spawnRegistryProcess, type RegistryProcess } from './registry-process.js';
