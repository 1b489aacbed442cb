// A bundle's costliest signature checks run concurrently on libuv's thread pool before its synchronous
// verification, which then finds their answers instead of computing them one after the other on the
// main thread. The two P-384 checks of a keyless bundle (~0.46 ms of OpenSSL each: the leaf by its
// Fulcio issuer, the RFC 3161 token by its TSA) are most of a verification's cryptography, and nothing
// of the bundle's verification can start before its blob arrives: run side by side, its wall time
// drops by about one of them.
//
// How it stays the library's check. Every signature check of @sigstore/verify and @sigstore/core (and
// CachedCertificate's) goes through @sigstore/core's `crypto.verify(data, key, signature, algorithm)`;
// this module wraps that one export. Outside `withCheckedSignatures` the wrapper calls the library's
// function and nothing else. Inside, it answers `true` without recomputing only for a check OpenSSL
// already answered `true` for in `checkAhead`, compared on EVERY input: the algorithm name, the key
// (the same key material), the data bytes and the signature bytes (byte for byte, never a hash of
// them). Anything else, including a check that failed or threw ahead, runs the library's own check,
// which fails as it always did, with its own error. The answers live in one object per verification,
// consulted only while that verification's synchronous code runs: nothing reaches the next one.
// If a library release renames what is read here, `checkAhead` finds fewer checks and the library
// simply runs them itself (only slower).
import { KeyObject, verify as verifyOnThreadPool } from 'node:crypto';
import { crypto as sigstoreCrypto, RFC3161Timestamp } from '@sigstore/core';
import type { ASN1Obj, X509Certificate } from '@sigstore/core';
import type { TrustMaterial } from '@sigstore/verify';
import type { Bundle } from './bundle.ts';
import { CachedCertificate } from './cached-certificate.ts';
import { readDer } from './der-reader.ts';

/** One signature check, as @sigstore/core's `crypto.verify` receives it. */
export interface SignatureCheck {
  readonly algorithm: string | undefined;
  readonly data: Buffer;
  readonly key: KeyObject;
  readonly signature: Buffer;
}

/** The checks OpenSSL answered `true` for, for one verification (only checkAhead makes one). */
export interface CheckedSignatures {
  readonly size: number;
  /** True only for exactly these inputs (every byte, the same key material, the same algorithm name). */
  has(data: unknown, key: unknown, signature: unknown, algorithm: unknown): boolean;
}

class PassedChecks implements CheckedSignatures {
  readonly #passed: readonly SignatureCheck[];

  constructor(passed: readonly SignatureCheck[]) {
    this.#passed = passed;
  }

  get size(): number {
    return this.#passed.length;
  }

  has(data: unknown, key: unknown, signature: unknown, algorithm: unknown): boolean {
    if (!Buffer.isBuffer(data) || !Buffer.isBuffer(signature) || !isKeyObject(key)) return false;
    if (algorithm !== undefined && typeof algorithm !== 'string') return false;
    for (const check of this.#passed) {
      if (
        check.algorithm === algorithm &&
        check.signature.equals(signature) &&
        check.data.equals(data) &&
        (check.key === key || check.key.equals(key))
      )
        return true;
    }
    return false;
  }
}

function isKeyObject(key: unknown): key is KeyObject {
  return key instanceof KeyObject && key.type === 'public';
}

/**
 * Runs every check concurrently on the thread pool, on private copies of the bytes (nothing the
 * caller holds can change what was checked), and keeps the ones that passed.
 */
export async function checkAhead(checks: readonly SignatureCheck[]): Promise<CheckedSignatures> {
  const copies = checks.map((c) => ({
    ...c,
    data: Buffer.from(c.data),
    signature: Buffer.from(c.signature),
  }));
  const results = await Promise.all(
    copies.map(
      (check) =>
        new Promise<boolean>((resolve) => {
          try {
            verifyOnThreadPool(check.algorithm, check.data, check.key, check.signature, (error, ok) =>
              resolve(error === null && ok),
            );
          } catch {
            resolve(false);
          }
        }),
    ),
  );
  return new PassedChecks(copies.filter((_, i) => results[i] === true));
}

let current: CheckedSignatures | undefined;

/** Runs `verification` (synchronous) with these answers at hand; none of them outlives the call. */
export function withCheckedSignatures<T>(checked: CheckedSignatures, verification: () => T): T {
  const outer = current;
  current = checked;
  try {
    return verification();
  } finally {
    current = outer;
  }
}

type LibraryVerify = (data: Buffer, key: unknown, signature: Buffer, algorithm?: string) => boolean;
const library = sigstoreCrypto as unknown as { verify: LibraryVerify };
const libraryVerify = library.verify;
library.verify = function verifyOrRecall(data, key, signature, algorithm) {
  if (current?.has(data, key, signature, algorithm) === true) return true;
  return libraryVerify(data, key, signature, algorithm);
};

/**
 * The P-384 checks a bundle's verification will make that take no work to foresee: its signing
 * certificate by each Fulcio certificate named as its issuer (what CachedCertificate.verify checks),
 * and each RFC 3161 token by each TSA certificate with the token's signer serial and issuer (what the
 * token's own `verify` checks). A check that will not be asked costs thread-pool time, nothing else.
 */
export function foreseenChecks(bundle: Bundle, trust: TrustMaterial): SignatureCheck[] {
  const checks: SignatureCheck[] = [];
  try {
    const leaf = leafOf(bundle);
    if (leaf !== undefined)
      for (const ca of trust.certificateAuthorities)
        for (const issuer of ca.certChain)
          if (issuer instanceof CachedCertificate && issuer.subject.equals(leaf.issuer))
            checks.push({
              algorithm: leaf.signatureAlgorithm,
              data: leaf.signedBytes,
              key: issuer.keyObject,
              signature: leaf.signatureValue,
            });
    for (const { signedTimestamp } of bundle.verificationMaterial.timestampVerificationData
      ?.rfc3161Timestamps ?? []) {
      const token = new RFC3161Timestamp(readDer(signedTimestamp));
      const data = signedAttributes(token);
      if (data === undefined) continue;
      for (const tsa of trust.timestampAuthorities) {
        const signer: X509Certificate | undefined = tsa.certChain[0];
        if (
          signer instanceof CachedCertificate &&
          signer.serialNumber.equals(token.signerSerialNumber) &&
          signer.issuer.equals(token.signerIssuer)
        )
          checks.push({
            algorithm: token.signatureAlgorithm,
            data,
            key: signer.keyObject,
            signature: token.signatureValue,
          });
      }
    }
  } catch {
    // Unreadable material: the verification reports it; nothing is foreseen for it.
  }
  return checks;
}

function leafOf(bundle: Bundle): CachedCertificate | undefined {
  const content = bundle.verificationMaterial.content;
  const der =
    content.$case === 'certificate'
      ? content.certificate.rawBytes
      : content.$case === 'x509CertificateChain'
        ? content.x509CertificateChain.certificates[0]?.rawBytes
        : undefined;
  return der === undefined ? undefined : CachedCertificate.read(der);
}

/** What the token's signature covers, as RFC3161Timestamp.verifySignature encodes it. */
function signedAttributes(token: RFC3161Timestamp): Buffer | undefined {
  const attributes = (token as unknown as { signedAttrsObj?: ASN1Obj }).signedAttrsObj;
  if (attributes === undefined) return undefined;
  const der = attributes.toDER();
  der[0] = 0x31; // the context-specific tag read as a SET, as the library does
  return der;
}
