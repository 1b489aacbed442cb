// cosign's legacy "simple signing" payload (sigstore/sigstore pkg/signature/payload/payload.go): the
// exact bytes a legacy `.sig` layer signs. Parse it from the raw blob (never re-serialise), and check
// it names the admitted image.
//
// docker-reference rule. cosign and policy-controller ignore `critical.identity.docker-reference`
// (cosign's SimpleClaimVerifier checks only the digest), containers/image compares it. sigward checks
// it when the caller passes the admitted repository: both sides are normalised (Docker Hub aliases
// `docker.io`/`index.docker.io` → `index.docker.io`, `library/` for single-segment Hub names, host
// lower-cased, tag and digest dropped; src/oci/reference) and must be equal, otherwise the signature is
// rejected. A signature made for `registry-a/app` therefore does not admit the same digest pulled as
// `registry-b/app`: copying an image to another registry needs a re-sign there (or the caller passes
// no repository, which is the explicit "ignore" choice).
import { parseReference, repositoryString } from '../oci/reference.ts';
import type { RepositoryName } from '../oci/reference.ts';
import { SIMPLE_SIGNING_TYPE } from './layout.ts';
import { SigstoreError, SigstoreErrorCode } from './errors.ts';

export interface SimpleSigningPayload {
  readonly dockerReference: string;
  readonly manifestDigest: string;
  readonly type: string;
  readonly optional: Readonly<Record<string, unknown>> | null;
}

export interface ImageExpectation {
  /** The admitted manifest digest, `sha256:<hex>`. */
  readonly digest: string;
  /** The admitted repository (`registry/path` or parsed); omit to ignore docker-reference on purpose. */
  readonly repository?: string | RepositoryName | undefined;
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
    let found: string;
    try {
      found = normaliseRepository(payload.dockerReference);
    } catch {
      throw mismatch(
        `the signature names no valid repository: expected ${want}, found "${payload.dockerReference}"`,
      );
    }
    if (want !== found) {
      throw mismatch(
        `the signature names another repository: expected ${want}, found ${found} (docker-reference "${payload.dockerReference}")`,
      );
    }
  }
}

/** `index.docker.io/library/x:tag@sha256:…` → `index.docker.io/library/x` (oci/reference rules). */
export function normaliseRepository(reference: string | RepositoryName): string {
  return repositoryString(
    typeof reference === 'string' ? parseReference(reference, { defaultTag: false }) : reference,
  );
}
