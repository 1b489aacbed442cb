// Verify one Sigstore bundle against trust material: no policy, no I/O. Every cryptographic check runs
// in @sigstore/verify (certificate chain to the Fulcio CA at signing time, SCTs, Rekor v1 SET or v2
// inclusion proof + checkpoint, RFC 3161 timestamps, signature); sigward then checks WHAT was signed,
// which the library never does, and returns the identity it proved. Policy runs on that afterwards.
import { createHash } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { PolicyError, VerificationError, Verifier, toSignedEntity } from '@sigstore/verify';
import type { SignedEntity, TrustMaterial } from '@sigstore/verify';
import { HashAlgorithm } from '@sigstore/protobuf-specs';
import { X509Certificate } from '@sigstore/core';
import type { RepositoryName } from '../oci/reference.ts';
import type { Bundle } from './bundle.ts';
import { SigstoreError, SigstoreErrorCode } from './errors.ts';
import { certificateIdentity } from './identity.ts';
import type { CertificateIdentity } from './identity.ts';
import { COSIGN_SIGN_PREDICATE_TYPE } from './layout.ts';
import { checkSimpleSigning, parseSimpleSigning } from './payload.ts';
import type { SimpleSigningPayload } from './payload.ts';
import { verifyPrehashed } from './prehashed.ts';
import { checkStatement, parseStatement, splitDigest } from './statement.ts';
import type { InTotoStatement } from './statement.ts';

/** Who may have signed: a Fulcio certificate (keyless), or one trusted public key. */
export type SignerTrust =
  | { readonly kind: 'keyless' }
  | {
      readonly kind: 'key';
      readonly publicKey: KeyObject;
      /** Default true. False is cosign's --insecure-ignore-tlog: log entries are neither required nor read. */
      readonly requireTlog?: boolean;
      /** When the key may have signed (checked against every verified timestamp); default always. */
      readonly validFor?: { readonly start?: Date; readonly end?: Date };
    };

/** What the signature must be about. */
export type SignedContent =
  | {
      /** A blob: message signatures must carry its digest; DSSE statements must name it as subject. */
      readonly kind: 'artifact';
      /** `sha256:<hex>` of the artifact. */
      readonly digest: string;
      /** The artifact bytes, when known; otherwise message signatures are checked over the digest. */
      readonly bytes?: Uint8Array;
      /** Required DSSE predicate type; undefined accepts any. */
      readonly predicateType?: string;
    }
  | {
      /** A container image: legacy simple-signing payload, or an in-toto statement in DSSE. */
      readonly kind: 'image';
      /** The admitted manifest digest `sha256:<hex>`. */
      readonly digest: string;
      /** The admitted repository; checked against docker-reference (payload.ts); omit to ignore. */
      readonly repository?: string | RepositoryName;
      /** The simple-signing payload blob (the signed bytes) of a message-signature bundle. */
      readonly payload?: Uint8Array;
      /** Required DSSE predicate type, default the cosign image-signature type. */
      readonly predicateType?: string;
    };

export type ProvenIdentity =
  | ({ readonly kind: 'certificate' } & CertificateIdentity)
  | { readonly kind: 'key'; readonly publicKey: KeyObject };

export interface VerifiedSignature {
  readonly identity: ProvenIdentity;
  readonly contentKind: 'message-signature' | 'dsse';
  /** The verified times of signing: Rekor integrated times (with a SET) and RFC 3161 times. */
  readonly signedAt: readonly Date[];
  readonly statement?: InTotoStatement;
  readonly simpleSigning?: SimpleSigningPayload;
}

export interface VerifyInput {
  readonly bundle: Bundle;
  /** From trust-root.ts (`TrustRootSnapshot.material`). */
  readonly trust: TrustMaterial;
  readonly signer: SignerTrust;
  readonly content: SignedContent;
}

const HASH_NAMES: Partial<Record<HashAlgorithm, string>> = {
  [HashAlgorithm.SHA2_256]: 'sha256',
  [HashAlgorithm.SHA2_384]: 'sha384',
  [HashAlgorithm.SHA2_512]: 'sha512',
};

function mismatch(message: string): SigstoreError {
  return new SigstoreError(SigstoreErrorCode.contentMismatch, message);
}

/** Verifies `bundle` and what it signs. Throws SigstoreError with a reason code on any failure. */
export function verifyBundle(input: VerifyInput): VerifiedSignature {
  const { bundle, signer, content } = input;
  const material = bundle.verificationMaterial.content;
  if (signer.kind === 'key' && material.$case !== 'publicKey') {
    throw new SigstoreError(
      SigstoreErrorCode.keyUntrusted,
      'a key was expected, but the bundle carries a certificate',
    );
  }
  if (signer.kind === 'keyless' && material.$case === 'publicKey') {
    throw new SigstoreError(
      SigstoreErrorCode.keyUntrusted,
      'a certificate (keyless) was expected, but the bundle was signed with a key',
    );
  }
  if (material.$case === 'x509CertificateChain' && material.x509CertificateChain.certificates.length === 0) {
    throw new SigstoreError(SigstoreErrorCode.bundleMalformed, 'the bundle has an empty certificate chain');
  }
  if (material.$case === 'x509CertificateChain')
    rejectRootCertificates(material.x509CertificateChain.certificates);

  const requireTlog = signer.kind === 'key' ? signer.requireTlog !== false : true;
  if (requireTlog && bundle.verificationMaterial.tlogEntries.length === 0) {
    const hint =
      signer.kind === 'key'
        ? ' (a key-only signature needs requireTlog: false, like --insecure-ignore-tlog)'
        : '';
    throw new SigstoreError(
      SigstoreErrorCode.tlogInvalid,
      `the signature has no transparency log entry${hint}`,
    );
  }
  const prepared = prepareContent(bundle, content);
  const entity = signedEntity(bundle, prepared.artifact, prepared.prehashed);
  if (!requireTlog) entity.tlogEntries = [];
  if (!requireTlog) entity.timestamps = entity.timestamps.filter((t) => t.$case === 'timestamp-authority');

  const trust: TrustMaterial =
    signer.kind === 'key'
      ? {
          ...input.trust,
          publicKey: () => ({
            publicKey: signer.publicKey,
            validFor: (date: Date) => keyValidAt(signer.validFor, date),
          }),
        }
      : input.trust;
  const verifier = new Verifier(trust, requireTlog ? {} : { tlogThreshold: 0, timestampThreshold: 0 });
  let key: KeyObject;
  try {
    key = verifier.verify(entity).key;
  } catch (error) {
    throw fromLibraryError(error);
  }

  const signedAt = verifiedTimes(entity);
  let identity: ProvenIdentity;
  if (signer.kind === 'key') identity = { kind: 'key', publicKey: key };
  else if (entity.key.$case === 'certificate')
    identity = { kind: 'certificate', ...certificateIdentity(entity.key.certificate) };
  else throw new SigstoreError(SigstoreErrorCode.keyUntrusted, 'the bundle carries no certificate');

  const after = prepared.check();
  return {
    identity,
    contentKind: bundle.content.$case === 'dsseEnvelope' ? 'dsse' : 'message-signature',
    signedAt,
    ...after,
  };
}

interface PreparedContent {
  readonly artifact?: Buffer;
  readonly prehashed?: { algorithm: string; digest: Buffer };
  /** Runs after the crypto checks so a forged bundle is reported as forged, not as "other content". */
  readonly check: () => { statement?: InTotoStatement; simpleSigning?: SimpleSigningPayload };
}

function prepareContent(bundle: Bundle, content: SignedContent): PreparedContent {
  if (bundle.content.$case === 'dsseEnvelope') {
    const envelope = bundle.content.dsseEnvelope;
    const predicateType =
      content.kind === 'image'
        ? (content.predicateType ?? COSIGN_SIGN_PREDICATE_TYPE)
        : content.predicateType;
    const digest =
      content.kind === 'artifact' && content.bytes ? sha256Digest(content.bytes) : content.digest;
    if (content.kind === 'artifact' && content.bytes && digest !== content.digest.toLowerCase()) {
      throw mismatch(`the artifact bytes do not match the given digest ${content.digest}`);
    }
    return {
      check: () => {
        const statement = parseStatement(envelope.payloadType, envelope.payload);
        checkStatement(statement, { digest, predicateType });
        return { statement };
      },
    };
  }

  const { messageDigest } = bundle.content.messageSignature;
  const algorithm = messageDigest ? HASH_NAMES[messageDigest.algorithm] : undefined;
  if (!messageDigest || !algorithm) {
    throw new SigstoreError(
      SigstoreErrorCode.unsupported,
      'the message signature has no supported digest algorithm',
    );
  }
  const found = `${algorithm}:${Buffer.from(messageDigest.digest).toString('hex')}`;

  if (content.kind === 'artifact') {
    const [wantAlg, wantHex] = splitDigest(content.digest);
    if (content.bytes) {
      const actual = createHash(wantAlg).update(content.bytes).digest('hex');
      if (actual !== wantHex)
        throw mismatch(`the artifact bytes do not match the given digest ${content.digest}`);
    }
    if (found !== `${wantAlg}:${wantHex}`) {
      throw mismatch(`the bundle signs another artifact: expected ${wantAlg}:${wantHex}, found ${found}`);
    }
    if (content.bytes) return { artifact: Buffer.from(content.bytes), check: () => ({}) };
    return { prehashed: { algorithm, digest: Buffer.from(wantHex, 'hex') }, check: () => ({}) };
  }

  if (!content.payload) {
    throw mismatch('a message-signature bundle for an image needs its simple-signing payload');
  }
  const payload = content.payload;
  const payloadDigest = `${algorithm}:${createHash(algorithm).update(payload).digest('hex')}`;
  if (payloadDigest !== found) {
    throw mismatch(
      `the signature is over other bytes than the payload: expected ${payloadDigest}, found ${found}`,
    );
  }
  return {
    artifact: Buffer.from(payload),
    check: () => {
      const simpleSigning = parseSimpleSigning(payload);
      checkSimpleSigning(simpleSigning, { digest: content.digest, repository: content.repository });
      return { simpleSigning };
    },
  };
}

function signedEntity(
  bundle: Bundle,
  artifact?: Buffer,
  prehashed?: { algorithm: string; digest: Buffer },
): SignedEntity {
  let entity: SignedEntity;
  try {
    entity = toSignedEntity(bundle, artifact);
  } catch (cause) {
    throw new SigstoreError(
      SigstoreErrorCode.bundleMalformed,
      'the bundle cannot be read (certificate or timestamp)',
      { cause },
    );
  }
  if (!prehashed) return entity;
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

// Trust comes from the trusted root only; a bundle that ships a root (self-signed) certificate is
// malformed (protobuf-specs: "MUST NOT include the root"; conformance bundle-with-root-cert_fail).
function rejectRootCertificates(certificates: ReadonlyArray<{ rawBytes: Buffer }>): void {
  for (const { rawBytes } of certificates) {
    let cert: X509Certificate;
    try {
      cert = X509Certificate.parse(Buffer.from(rawBytes));
    } catch (cause) {
      throw new SigstoreError(
        SigstoreErrorCode.bundleMalformed,
        'a certificate in the bundle cannot be parsed',
        { cause },
      );
    }
    if (cert.issuer.equals(cert.subject) && cert.isCA) {
      throw new SigstoreError(
        SigstoreErrorCode.bundleMalformed,
        'the bundle includes a root certificate; trust comes only from the trusted root',
      );
    }
  }
}

function keyValidAt(validFor: { start?: Date; end?: Date } | undefined, date: Date): boolean {
  if (validFor?.start && date < validFor.start) return false;
  if (validFor?.end && date > validFor.end) return false;
  return true;
}

function verifiedTimes(entity: SignedEntity): Date[] {
  const times: Date[] = [];
  for (const t of entity.timestamps) {
    if (t.$case === 'timestamp-authority') times.push(t.timestamp.signingTime);
    else if (t.tlogEntry.inclusionPromise) times.push(new Date(Number(t.tlogEntry.integratedTime) * 1000));
  }
  return times;
}

function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

const LIBRARY_CODES: Record<string, SigstoreErrorCode> = {
  TLOG_ERROR: SigstoreErrorCode.tlogInvalid,
  TLOG_INCLUSION_PROOF_ERROR: SigstoreErrorCode.tlogInvalid,
  TLOG_INCLUSION_PROMISE_ERROR: SigstoreErrorCode.tlogInvalid,
  TLOG_MISSING_INCLUSION_ERROR: SigstoreErrorCode.tlogInvalid,
  TLOG_BODY_ERROR: SigstoreErrorCode.tlogInvalid,
  CERTIFICATE_ERROR: SigstoreErrorCode.certificateUntrusted,
  PUBLIC_KEY_ERROR: SigstoreErrorCode.keyUntrusted,
  SIGNATURE_ERROR: SigstoreErrorCode.signatureInvalid,
  TIMESTAMP_ERROR: SigstoreErrorCode.timestampInvalid,
  NOT_IMPLEMENTED_ERROR: SigstoreErrorCode.unsupported,
};

const EXPLAIN: Partial<Record<SigstoreErrorCode, string>> = {
  [SigstoreErrorCode.tlogInvalid]: 'transparency log check failed',
  [SigstoreErrorCode.certificateUntrusted]: 'certificate is not trusted',
  [SigstoreErrorCode.keyUntrusted]: 'public key is not trusted',
  [SigstoreErrorCode.signatureInvalid]: 'signature does not verify',
  [SigstoreErrorCode.timestampInvalid]: 'timestamp check failed',
  [SigstoreErrorCode.unsupported]: 'unsupported bundle feature',
};

/** Maps anything @sigstore/verify throws to a SigstoreError; unknown exception types never escape. */
export function fromLibraryError(error: unknown): SigstoreError {
  if (error instanceof SigstoreError) return error;
  if (error instanceof VerificationError || error instanceof PolicyError) {
    const code = LIBRARY_CODES[error.code] ?? SigstoreErrorCode.verificationFailed;
    return new SigstoreError(code, `${EXPLAIN[code] ?? 'verification failed'}: ${error.message}`, {
      cause: error,
      details: { libraryCode: error.code },
    });
  }
  const name = error instanceof Error ? error.name : typeof error;
  const message = error instanceof Error ? error.message : String(error);
  return new SigstoreError(SigstoreErrorCode.verificationFailed, `verification failed: ${message}`, {
    cause: error,
    details: { libraryError: name },
  });
}
