// Verify one Sigstore bundle against trust material: no policy, no I/O. Every cryptographic check runs
// in @sigstore/verify (certificate chain to the Fulcio CA at signing time, SCTs, Rekor v1 SET or v2
// inclusion proof + checkpoint, RFC 3161 timestamps, signature); sigward then checks WHAT was signed,
// which the library never does, and returns the identity it proved. Policy runs on that afterwards.
import type { KeyObject } from 'node:crypto';
import type { SignedEntity, TrustMaterial } from '@sigstore/verify';
import type { Bundle } from './bundle.ts';
import { signedEntity } from './signed-entity.ts';
import { checkStrictMaterial } from './strict-material.ts';
import { prepareContent } from './content.ts';
import type { SignedContent } from './content.ts';
import { SigstoreError, SigstoreErrorCode } from './errors.ts';
import { certificateIdentity } from './identity.ts';
import type { CertificateIdentity } from './identity.ts';
import { fromLibraryError } from './library-errors.ts';
import type { SimpleSigningPayload } from './payload.ts';
import type { InTotoStatement } from './statement.ts';
import { CachedKeyVerifier } from './verifier.ts';

export type { SignedContent } from './content.ts';
export { fromLibraryError } from './library-errors.ts';

/** Who may have signed: a Fulcio certificate (keyless), or one trusted public key. */
export type SignerTrust =
  | {
      readonly kind: 'keyless';
      /** Default true. False is cosign's --insecure-ignore-tlog: the time must then come from a TSA. */
      readonly requireTlog?: boolean;
      /** Default true. False is cosign's --insecure-ignore-sct, for a private Fulcio without a CT log. */
      readonly requireSct?: boolean;
    }
  | {
      readonly kind: 'key';
      readonly publicKey: KeyObject;
      /** Default true. False is cosign's --insecure-ignore-tlog: log entries are neither required nor read. */
      readonly requireTlog?: boolean;
      /** When the key may have signed (checked against every verified timestamp); default always. */
      readonly validFor?: { readonly start?: Date; readonly end?: Date };
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
  const strict = checkStrictMaterial(bundle);

  const requireTlog = signer.requireTlog !== false;
  if (requireTlog && bundle.verificationMaterial.tlogEntries.length === 0) {
    const hint =
      signer.kind === 'key'
        ? ' (a key-only signature needs requireTlog: false, like --insecure-ignore-tlog)'
        : ' (to accept one dated by a timestamp authority instead, requireTlog: false, like --insecure-ignore-tlog)';
    throw new SigstoreError(
      SigstoreErrorCode.tlogInvalid,
      `the signature has no transparency log entry${hint}`,
    );
  }
  const prepared = prepareContent(bundle, content);
  const { artifact, prehashed } = prepared;
  const entity = signedEntity({ bundle, artifact, prehashed, strict });
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
  // Without a log, a key needs no time at all; a certificate still needs one (a TSA's) to be checked at.
  const verifier = new CachedKeyVerifier(trust, {
    ...(requireTlog ? {} : { tlogThreshold: 0, timestampThreshold: signer.kind === 'key' ? 0 : 1 }),
    ...(signer.kind === 'keyless' && signer.requireSct === false ? { ctlogThreshold: 0 } : {}),
  });
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
