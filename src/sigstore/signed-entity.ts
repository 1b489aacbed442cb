// A bundle as @sigstore/verify's SignedEntity (what its Verifier checks), with sigward's readers for the
// DER parts. The library's `toSignedEntity` reads the signature content and the log entries; the
// signing certificate and the RFC 3161 tokens are read here, the way it reads them (the first
// certificate of a chain; tokens after the log entries' times), but with readDer (the same tree,
// faster, serialising with encodeDer), the certificate as a CachedCertificate keeping the key OpenSSL
// already decoded, and the tokens as the strict checks read them (strict-material.ts), not twice.
import { RFC3161Timestamp } from '@sigstore/core';
import type { ASN1Obj } from '@sigstore/core';
import { toSignedEntity } from '@sigstore/verify';
import type { SignedEntity } from '@sigstore/verify';
import type { Bundle } from './bundle.ts';
import { CachedCertificate } from './cached-certificate.ts';
import { readDer } from './der-reader.ts';
import { SigstoreError, SigstoreErrorCode } from './errors.ts';
import { verifyPrehashed } from './prehashed.ts';
import type { StrictMaterial } from './strict-material.ts';

export interface EntityInput {
  readonly bundle: Bundle;
  /** The signed bytes (a message signature's artifact); omitted for DSSE. */
  readonly artifact?: Buffer;
  /** A message signature checked over this digest instead of the artifact (verify-bundle sha256:…). */
  readonly prehashed?: { readonly algorithm: string; readonly digest: Buffer };
  /** What checkStrictMaterial read of this very bundle: OpenSSL's leaf, the tokens' trees. */
  readonly strict?: StrictMaterial;
}

/** Throws SIGSTORE_BUNDLE_MALFORMED when the certificate or a timestamp cannot be read. */
export function signedEntity(input: EntityInput): SignedEntity {
  const { bundle, artifact, prehashed, strict } = input;
  const material = bundle.verificationMaterial;
  let entity: SignedEntity;
  try {
    const library = toSignedEntity(withoutDer(bundle), artifact);
    const tokens = material.timestampVerificationData?.rfc3161Timestamps ?? [];
    // The strict checks' trees are of these tokens when there are as many (they read every one).
    const read: readonly ASN1Obj[] =
      strict?.tokens.length === tokens.length
        ? strict.tokens
        : tokens.map(({ signedTimestamp }) => readDer(signedTimestamp));
    entity = {
      ...library,
      key: signingKey(bundle, strict?.leaf) ?? library.key,
      timestamps: [
        ...library.timestamps,
        ...read.map((tree) => ({
          $case: 'timestamp-authority' as const,
          timestamp: new RFC3161Timestamp(tree),
        })),
      ],
    };
  } catch (cause) {
    throw new SigstoreError(
      SigstoreErrorCode.bundleMalformed,
      'the bundle cannot be read (certificate or timestamp)',
      { cause },
    );
  }
  return prehashed === undefined ? entity : withPrehashedSignature(entity, prehashed);
}

/**
 * The library's own entity of `bundle` with its signature over `artifact`, for the last step alone
 * (the signature over the content, with the key the first step proved): it reads only the signature.
 * Without the DER parts (a key hint in place of the certificate, no tokens), which that step never
 * reads, so a second step waiting for its payload need not keep the first step's entity.
 */
export function signatureEntity(bundle: Bundle, artifact: Buffer | undefined): SignedEntity {
  return toSignedEntity(withoutDer(bundle), artifact);
}

/** The bundle without DER for the library to read: a key hint in place of certificates, no tokens. */
function withoutDer(bundle: Bundle): Bundle {
  const material = bundle.verificationMaterial;
  if (material.content.$case === 'publicKey' && material.timestampVerificationData === undefined)
    return bundle;
  return {
    ...bundle,
    verificationMaterial: {
      ...material,
      content:
        material.content.$case === 'publicKey'
          ? material.content
          : { $case: 'publicKey', publicKey: { hint: '' } },
      timestampVerificationData: undefined,
    },
  };
}

function signingKey(bundle: Bundle, leaf: StrictMaterial['leaf']): SignedEntity['key'] | undefined {
  const content = bundle.verificationMaterial.content;
  let der: Uint8Array;
  if (content.$case === 'certificate') der = content.certificate.rawBytes;
  else if (content.$case === 'x509CertificateChain') {
    const first = content.x509CertificateChain.certificates[0];
    if (first === undefined) throw new Error('the certificate chain is empty');
    der = first.rawBytes;
  } else return undefined;
  // The native reading's key is this certificate's only when it read these very bytes.
  const key = leaf?.raw.equals(der) ? leaf.publicKey : undefined;
  return { $case: 'certificate', certificate: CachedCertificate.read(der, key) };
}

function withPrehashedSignature(
  entity: SignedEntity,
  prehashed: { readonly algorithm: string; readonly digest: Buffer },
): SignedEntity {
  const signature = entity.signature;
  return {
    ...entity,
    signature: {
      ...signature,
      signature: signature.signature,
      compareSignature: (s) => signature.compareSignature(s),
      compareDigest: (d) => signature.compareDigest(d),
      compareSignedDigest: (d) => signature.compareSignedDigest(d),
      verifySignature: (key) =>
        verifyPrehashed(key, prehashed.algorithm, prehashed.digest, signature.signature),
    },
  };
}
