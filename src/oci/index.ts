// The public face of src/oci: what the engine, sigstore/ and the signer use.
export * from './reference.ts';
export * from './auth.ts';
export { digestOf, verifyDigest, digestTag, referrersTag, type DigestAlgorithm } from './digest.ts';
export * from './media-types.ts';
export type { Descriptor, ImageIndex, ImageManifest, Manifest, Platform } from './manifest.ts';
export { parseManifest } from './manifest.ts';
export { TokenCache, type Scope, type TokenCacheOptions } from './authenticator.ts';
export {
  TEST_REGISTRY_ENDPOINTS_ENV,
  parseRegistryEndpoints,
  registryEndpoints,
  type RegistryEndpoints,
} from './endpoints.ts';
export { HttpTransport, isLoopbackHostname, type Exchange, type TransportOptions } from './http.ts';
export type { RegistryErrorCode } from './registry-errors.ts';
export type { FetchedManifest, PushedManifest, PushManifestOptions } from './manifests.ts';
export type { GetBlobOptions, PushBlobOptions, PushedBlob } from './blobs.ts';
export type { Referrers, ReferrersOptions, PushedReferrer } from './referrers.ts';
export { ReferrersSupport } from './referrers-support.ts';
export {
  RegistryClient,
  DEFAULT_MAX_BLOB_BYTES,
  DEFAULT_MAX_MANIFEST_BYTES,
  type RegistryClientOptions,
} from './client.ts';
