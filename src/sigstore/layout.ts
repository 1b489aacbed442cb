// Where and how signatures live next to an image: the one definition shared by discovery (webhook)
// and attach (signer). Pure data and tiny functions, no I/O.
// Sources: sigstore/cosign pkg/oci/remote/remote.go, pkg/oci/static/*, pkg/types/*;
// opencontainers/distribution-spec "Referrers Tag Schema".

/** Tag suffixes of cosign's legacy scheme: `sha256-<hex>.sig`, `.att`, `.sbom`. */
export const LEGACY_TAG_SUFFIX = { signature: 'sig', attestation: 'att', sbom: 'sbom' } as const;
export type LegacyTagKind = keyof typeof LEGACY_TAG_SUFFIX;

/** Layer media type of a legacy cosign signature (the simple-signing payload blob). */
export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
/** Layer media type of a legacy cosign attestation (a DSSE envelope blob). */
export const DSSE_ENVELOPE_MEDIA_TYPE = 'application/vnd.dsse.envelope.v1+json';
/** DSSE payloadType of an in-toto statement. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
/** In-toto Statement `_type` values sigward accepts (v1, and the older v0.1 cosign still writes for attest). */
export const IN_TOTO_STATEMENT_TYPES: readonly string[] = [
  'https://in-toto.io/Statement/v1',
  'https://in-toto.io/Statement/v0.1',
];
/** Predicate type cosign >= 2.6 uses for a plain image signature in the bundle format. */
export const COSIGN_SIGN_PREDICATE_TYPE = 'https://sigstore.dev/cosign/sign/v1';
/** `critical.type` of a simple-signing payload. */
export const SIMPLE_SIGNING_TYPE = 'cosign container image signature';

/** Legacy layer annotation keys. Only the signature key uses the `dev.cosignproject` prefix. */
export const ANNOTATION = {
  signature: 'dev.cosignproject.cosign/signature',
  certificate: 'dev.sigstore.cosign/certificate',
  chain: 'dev.sigstore.cosign/chain',
  rekorBundle: 'dev.sigstore.cosign/bundle',
  rfc3161Timestamp: 'dev.sigstore.cosign/rfc3161timestamp',
  predicateType: 'predicateType',
} as const;

/** Artifact type (and layer media type) of a Sigstore bundle stored as an OCI 1.1 referrer. */
export const BUNDLE_ARTIFACT_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
/** Prefix that every Sigstore bundle media type starts with (v0.1 to v0.3). */
export const BUNDLE_MEDIA_TYPE_PREFIX = 'application/vnd.dev.sigstore.bundle';
/** Manifest annotations cosign writes on a bundle referrer. */
export const BUNDLE_ANNOTATION = {
  content: 'dev.sigstore.bundle.content',
  predicateType: 'dev.sigstore.bundle.predicateType',
  created: 'org.opencontainers.image.created',
} as const;
/** Value of `dev.sigstore.bundle.content` for a DSSE bundle. */
export const BUNDLE_CONTENT_DSSE = 'dsse-envelope';

/** The OCI empty config descriptor that bundle referrers point at. */
export const EMPTY_CONFIG = {
  mediaType: 'application/vnd.oci.empty.v1+json',
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
} as const;
/** artifactType of cosign's experimental OCI 1.1 legacy-signature referrer (rare; not a bundle). */
export const COSIGN_SIG_ARTIFACT_TYPE = 'application/vnd.dev.cosign.artifact.sig.v1+json';

const DIGEST = /^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;

/** `sha256:<hex>` → `sha256-<hex>`: the shared stem of the legacy and referrers-fallback tags. */
function digestTagStem(digest: string): string {
  const m = DIGEST.exec(digest);
  if (!m) throw new TypeError(`not a digest: ${digest}`);
  // distribution-spec: algorithm truncated to 32 characters, encoded part to 64.
  return `${m[1]!.slice(0, 32)}-${m[2]!.slice(0, 64)}`;
}

/** Legacy cosign tag for a digest: `sha256-<hex>.sig` (or `.att` / `.sbom`). */
export function legacyTag(digest: string, kind: LegacyTagKind = 'signature'): string {
  return `${digestTagStem(digest)}.${LEGACY_TAG_SUFFIX[kind]}`;
}

/** Referrers API fallback tag (distribution-spec "Referrers Tag Schema"): `sha256-<hex>`. */
export function referrersFallbackTag(digest: string): string {
  return digestTagStem(digest);
}

/** True when a media type or artifactType names a Sigstore bundle of any version. */
export function isBundleMediaType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && mediaType.startsWith(BUNDLE_MEDIA_TYPE_PREFIX);
}
