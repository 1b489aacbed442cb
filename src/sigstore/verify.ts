// Verify one Sigstore bundle against trust material: no policy, no I/O. Every cryptographic check runs
// in @sigstore/verify (certificate chain to the Fulcio CA at signing time, SCTs, Rekor v1 SET or v2
// inclusion proof + checkpoint, RFC 3161 timestamps, signature); sigward then checks WHAT was signed,
// which the library never does, and returns the identity it proved. Policy runs on that afterwards.
import type { KeyObject } from 'node:crypto';
import type { SignedEntity, TrustMaterial } from '@sigstore/verify';
import type { Bundle } from './bundle.ts';
import { signatureEntity, signedEntity } from './signed-entity.ts';
import { checkStrictMaterial } from './strict-material.ts';
import type { StrictMaterial } from './strict-material.ts';
import { prepareContent } from './content.ts';
import type { PreparedContent, SignedContent } from './content.ts';
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
  const material = checkMaterial(input);
  const prepared = prepareContent(input.bundle, input.content);
  const signing = checkSigning(input, material, prepared);
  checkSignature(signing, signing.entity);
  return {
    identity: identityOf(input.signer, signing),
    ...verified(input.bundle, signing.entity),
    ...prepared.check(),
  };
}

/**
 * verifyBundle in two steps, for a legacy image signature (a message signature over a simple-signing
 * payload) whose payload is still being fetched. The first runs now every check that does not read the
 * payload: the material, the times, the certificate's chain and SCTs, the log entries (their body
 * against the signature and the message digest, which the layer's descriptor already gives), the
 * identity; `finish(payload)` runs the rest: the payload against the message digest, the signature
 * over it, what it says. A failure of the first step is kept and thrown by `finish` exactly where
 * verifyBundle would have thrown it, so the two steps answer what verifyBundle answers over the same
 * bundle and payload, failures included. Undefined for any other content (nothing to start early).
 */
export function startVerifyBundle(
  input: VerifyInput,
): ((payload: Uint8Array) => VerifiedSignature) | undefined {
  const { bundle, content } = input;
  if (bundle.content.$case !== 'messageSignature' || content.kind !== 'image') return undefined;
  const { materialRefused, signed, identity } = firstStep(input);
  return (payload) => {
    // A refused material is thrown before the content is read, as verifyBundle does (`signed` carries it).
    if (materialRefused && !signed.ok) throw signed.error;
    const prepared = prepareContent(bundle, { ...content, payload });
    if (!signed.ok) throw signed.error;
    checkSignature(signed.value, signatureEntity(bundle, prepared.artifact));
    if (!identity.ok) throw identity.error;
    return { identity: identity.value, ...signed.value.verified, ...prepared.check() };
  };
}

/**
 * startVerifyBundle's first step: each check's outcome, or the failure verifyBundle would throw there.
 * The second step waits for a registry round trip, during which young-generation collections promote
 * whatever it still holds: it gets only what it reads (the proven key, the verifier, the verified
 * times, the identity), never the certificate's DER tree, the strict reading or the log entries. A
 * function of its own, so that no closure of the second step shares a scope with them.
 */
function firstStep(input: VerifyInput) {
  const material = outcome(() => checkMaterial(input));
  const signing = material.ok ? outcome(() => checkSigning(input, material.value, {})) : material;
  const identity = signing.ok ? outcome(() => identityOf(input.signer, signing.value)) : signing;
  return {
    materialRefused: !material.ok,
    signed: signing.ok ? { ok: true as const, value: lastStep(input.bundle, signing.value) } : signing,
    identity,
  };
}

/** What the second step needs of the first's Signing: the signature check's key, the verified times. */
function lastStep(
  bundle: Bundle,
  { verifier, key, entity }: Signing,
): SignatureStep & { verified: Verified } {
  return { verifier, key, verified: verified(bundle, entity) };
}

type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

function outcome<T>(step: () => T): Outcome<T> {
  try {
    return { ok: true, value: step() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** The signer kind against the material, the strict reading of it, a log entry where one is required. */
function checkMaterial({ bundle, signer }: VerifyInput): { strict: StrictMaterial; requireTlog: boolean } {
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
  return { strict, requireTlog };
}

interface Signing {
  readonly entity: SignedEntity;
  readonly verifier: CachedKeyVerifier;
  readonly key: KeyObject;
}

/**
 * The library's checks but the signature over the content: the times, the signing key at each, the
 * log entries. `content` gives the signed bytes when known (the signature needs them, nothing here).
 */
function checkSigning(
  { bundle, signer, trust: rootTrust }: VerifyInput,
  { strict, requireTlog }: { strict: StrictMaterial; requireTlog: boolean },
  content: Pick<PreparedContent, 'artifact' | 'prehashed'>,
): Signing {
  const entity = signedEntity({ bundle, ...content, strict });
  if (!requireTlog) entity.tlogEntries = [];
  if (!requireTlog) entity.timestamps = entity.timestamps.filter((t) => t.$case === 'timestamp-authority');

  const trust: TrustMaterial =
    signer.kind === 'key'
      ? {
          ...rootTrust,
          publicKey: () => ({
            publicKey: signer.publicKey,
            validFor: (date: Date) => keyValidAt(signer.validFor, date),
          }),
        }
      : rootTrust;
  // Without a log, a key needs no time at all; a certificate still needs one (a TSA's) to be checked at.
  const verifier = new CachedKeyVerifier(trust, {
    ...(requireTlog ? {} : { tlogThreshold: 0, timestampThreshold: signer.kind === 'key' ? 0 : 1 }),
    ...(signer.kind === 'keyless' && signer.requireSct === false ? { ctlogThreshold: 0 } : {}),
  });
  try {
    return { entity, verifier, key: verifier.verifyAllButSignature(entity).key };
  } catch (error) {
    throw fromLibraryError(error);
  }
}

/** The last step's verifier and the key it checks the signature with. */
type SignatureStep = Pick<Signing, 'verifier' | 'key'>;

/** The library's last step: the signature over `entity`'s content (the same bundle, with its bytes). */
function checkSignature({ verifier, key }: SignatureStep, entity: SignedEntity): void {
  try {
    verifier.verifySignature(entity, { key });
  } catch (error) {
    throw fromLibraryError(error);
  }
}

function identityOf(signer: SignerTrust, { entity, key }: Signing): ProvenIdentity {
  if (signer.kind === 'key') return { kind: 'key', publicKey: key };
  if (entity.key.$case === 'certificate')
    return { kind: 'certificate', ...certificateIdentity(entity.key.certificate) };
  throw new SigstoreError(SigstoreErrorCode.keyUntrusted, 'the bundle carries no certificate');
}

type Verified = Pick<VerifiedSignature, 'contentKind' | 'signedAt'>;

function verified(bundle: Bundle, entity: SignedEntity): Verified {
  return {
    contentKind: bundle.content.$case === 'dsseEnvelope' ? 'dsse' : 'message-signature',
    signedAt: verifiedTimes(entity),
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
