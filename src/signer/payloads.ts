// The bytes the signer signs, serialised once and kept: an in-toto Statement v1 about an image (cosign
// v3's signature, or an attestation with the user's predicate), and the simple-signing payload of a
// legacy `.sig` signature (sigstore/sigstore pkg/signature/payload; field order as cosign writes it).
import { COSIGN_SIGN_PREDICATE_TYPE, SIMPLE_SIGNING_TYPE } from '../sigstore/layout.ts';

const STATEMENT_V1 = 'https://in-toto.io/Statement/v1';

function hexOf(digest: string): { algorithm: string; hex: string } {
  const colon = digest.indexOf(':');
  return { algorithm: digest.slice(0, colon), hex: digest.slice(colon + 1) };
}

/**
 * An in-toto Statement whose only subject is the image digest (no name, as cosign writes it). The
 * default predicate is cosign's image-signature predicate, `{}`.
 */
export function imageStatement(
  digest: string,
  predicateType: string = COSIGN_SIGN_PREDICATE_TYPE,
  predicate: unknown = {},
): Buffer {
  const { algorithm, hex } = hexOf(digest);
  return Buffer.from(
    JSON.stringify({
      _type: STATEMENT_V1,
      subject: [{ digest: { [algorithm]: hex } }],
      predicateType,
      predicate,
    }),
    'utf8',
  );
}

/** cosign's simple-signing payload for `dockerReference` (registry/repository) at `digest`. */
export function simpleSigningPayload(
  dockerReference: string,
  digest: string,
  optional: Readonly<Record<string, string>> | null = null,
): Buffer {
  return Buffer.from(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': dockerReference },
        image: { 'docker-manifest-digest': digest },
        type: SIMPLE_SIGNING_TYPE,
      },
      optional,
    }),
    'utf8',
  );
}
