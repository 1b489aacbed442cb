// cosign's legacy "simple signing" payload (sigstore/sigstore pkg/signature/payload/payload.go): the
// exact bytes a legacy `.sig` layer signs. Parse it from the raw blob (never re-serialise), and check
// it names the admitted image.
//
// docker-reference rule. cosign and policy-controller ignore `critical.identity.docker-reference`
// (cosign's SimpleClaimVerifier checks only the digest), containers/image compares it. sigward checks
// it when the caller passes the admitted repository: both sides are normalised (Docker Hub aliases
// `docker.io`/`index.docker.io`/`registry-1.docker.io` → `docker.io`, `library/` for single-segment
// Hub names, host lower-cased, tag and digest dropped) and must be equal, otherwise the signature is
// rejected. A signature made for `registry-a/app` therefore does not admit the same digest pulled as
// `registry-b/app`: copying an image to another registry needs a re-sign there (or the caller passes
// no repository, which is the explicit "ignore" choice).
import { SIMPLE_SIGNING_MEDIA_TYPE, SIMPLE_SIGNING_TYPE } from './layout.ts';
import { SigstoreError, SigstoreErrorCode } from './errors.ts';

export { SIMPLE_SIGNING_MEDIA_TYPE };

export interface SimpleSigningPayload {
  readonly dockerReference: string;
  readonly manifestDigest: string;
  readonly type: string;
  readonly optional: Readonly<Record<string, unknown>> | null;
}

export interface ImageExpectation {
  /** The admitted manifest digest, `sha256:<hex>`. */
  readonly digest: string;
  /** The admitted repository (`registry/path`); omit to ignore docker-reference on purpose. */
  readonly repository?: string | undefined;
}

function mismatch(message: string): SigstoreError {
  return new SigstoreError(SigstoreErrorCode.contentMismatch, message);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses the payload blob. Throws SIGSTORE_BUNDLE_MALFORMED when its shape is wrong. */
export function parseSimpleSigning(bytes: Uint8Array): SimpleSigningPayload {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (cause) {
    throw new SigstoreError(SigstoreErrorCode.bundleMalformed, 'the simple-signing payload is not JSON', {
      cause,
    });
  }
  const critical = isRecord(json) ? json.critical : undefined;
  const identity = isRecord(critical) ? critical.identity : undefined;
  const image = isRecord(critical) ? critical.image : undefined;
  const dockerReference = isRecord(identity) ? identity['docker-reference'] : undefined;
  const manifestDigest = isRecord(image) ? image['docker-manifest-digest'] : undefined;
  const type = isRecord(critical) ? critical.type : undefined;
  const optional = isRecord(json) ? json.optional : undefined;
  if (typeof dockerReference !== 'string' || typeof manifestDigest !== 'string' || typeof type !== 'string') {
    throw new SigstoreError(
      SigstoreErrorCode.bundleMalformed,
      'the simple-signing payload lacks critical.identity.docker-reference, critical.image.docker-manifest-digest or critical.type',
    );
  }
  if (optional !== undefined && optional !== null && !isRecord(optional)) {
    throw new SigstoreError(
      SigstoreErrorCode.bundleMalformed,
      'the simple-signing payload has a malformed "optional"',
    );
  }
  return { dockerReference, manifestDigest, type, optional: optional ?? null };
}

/** Checks that the payload signs the admitted image; throws SIGSTORE_CONTENT_MISMATCH otherwise. */
export function checkSimpleSigning(payload: SimpleSigningPayload, expected: ImageExpectation): void {
  if (payload.type !== SIMPLE_SIGNING_TYPE) {
    throw mismatch(
      `the signed payload is not an image signature: expected type "${SIMPLE_SIGNING_TYPE}", found "${payload.type}"`,
    );
  }
  if (payload.manifestDigest !== expected.digest) {
    throw mismatch(
      `the signature is for another image: expected digest ${expected.digest}, found ${payload.manifestDigest}`,
    );
  }
  if (expected.repository !== undefined) {
    const want = normaliseRepository(expected.repository);
    const found = normaliseRepository(payload.dockerReference);
    if (want !== found) {
      throw mismatch(
        `the signature names another repository: expected ${want}, found ${found} (docker-reference "${payload.dockerReference}")`,
      );
    }
  }
}

// Kept here (tiny) until src/oci/reference exposes the same normalisation; then this delegates.
const HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** `index.docker.io/library/x:tag@sha256:…` → `docker.io/library/x`. */
export function normaliseRepository(reference: string): string {
  let name = reference.trim();
  const at = name.indexOf('@');
  if (at >= 0) name = name.slice(0, at);
  const lastSlash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon > lastSlash) name = name.slice(0, colon);
  const slash = name.indexOf('/');
  const first = slash >= 0 ? name.slice(0, slash) : '';
  const isHost = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  let host = isHost ? first.toLowerCase() : 'docker.io';
  let path = isHost ? name.slice(slash + 1) : name;
  if (HUB_ALIASES.has(host)) {
    host = 'docker.io';
    if (!path.includes('/')) path = `library/${path}`;
  }
  return `${host}/${path}`;
}
