// @sigstore/verify's Verifier, with the two steps that decode a certificate's key on every bundle
// taking the key a CachedCertificate already holds instead. The library calls `createPublicKey` (an
// OpenSSL decoder run, ~0.1 ms each in a verification) for the TSA's signing certificate of the trusted
// root on every RFC 3161 token, and for the bundle's leaf after its chain checks; here the TSA's key is
// decoded once per trust-root version (the root's CachedCertificate keeps it) and the leaf's is the
// one OpenSSL decoded when the strict checks read the certificate (signed-entity.ts).
// A leaf whose exact bytes passed the signing-key step before against the same trust material skips
// only the signature math that is a pure function of those bytes and that material: its issuer's
// check of its signature and verifySCTs (leaf-memo.ts says why that is sound).
// Everything else is the library's own code: the chains (verifyCertificateChain, the
// CertificateChainVerifier, validity at each verified time), SCTs, log times, the token's own
// checks (`RFC3161Timestamp.verify`); the steps keep its order, errors and thresholds. The two steps
// are private in its typings but plain methods at run time: if a release renames them, these are
// simply never called and the library's own steps run (test/sigstore/verifier.test.ts notices); the
// four internal modules imported below failing to load stops the start, never a check. `verify` runs
// the library's four steps itself, in its order, so that a legacy signature can run all but the last
// while its payload is still being fetched (verifyAllButSignature); a renamed step then fails every
// verification (closed), and the test compares the library's `verify` with these steps. What a test
// cannot see is a check a release ADDS inside these steps: on every @sigstore/verify upgrade,
// compare its verifier.js, key/index.js and timestamp/tsa.js with them (a test pins 4.1.3 until then).
import { isDeepStrictEqual } from 'node:util';
import type { KeyObject } from 'node:crypto';
import { crypto as sigstoreCrypto } from '@sigstore/core';
import type { RFC3161Timestamp, X509Certificate } from '@sigstore/core';
import { Verifier, VerificationError } from '@sigstore/verify';
import type { SignedEntity, Signer, TrustMaterial, VerifierOptions } from '@sigstore/verify';
import { CertificateChainVerifier, verifyCertificateChain } from '@sigstore/verify/dist/key/certificate.js';
import { verifySCTs } from '@sigstore/verify/dist/key/sct.js';
import { getTLogTimestamp } from '@sigstore/verify/dist/timestamp/index.js';
import { filterCertAuthorities } from '@sigstore/verify/dist/trust/filter.js';
import { CachedCertificate } from './cached-certificate.ts';
import { leafMemoOf } from './leaf-memo.ts';

type CertAuthority = TrustMaterial['certificateAuthorities'][number];

/** The library's steps this class replaces, as they are at run time (its typings call them private). */
interface VerifierSteps {
  verify(entity: SignedEntity): Signer;
  verifyTimestamps(entity: SignedEntity): Date[];
  verifySigningKey(entity: SignedEntity, timestamps: Date[]): Signer;
  verifyTLogs(entity: SignedEntity): void;
  verifySignature(entity: SignedEntity, signer: Signer): void;
}
const LibraryVerifier = Verifier as unknown as new (
  trust: TrustMaterial,
  options?: VerifierOptions,
) => VerifierSteps;

export const REPLACED_STEPS = ['verifyTimestamps', 'verifySigningKey'] as const;
/** The library's steps `verify` runs, in its order (verifier.js), split in two for a head start. */
export const LIBRARY_STEPS = [
  'verifyTimestamps',
  'verifySigningKey',
  'verifyTLogs',
  'verifySignature',
] as const;

export class CachedKeyVerifier extends LibraryVerifier {
  readonly #trust: TrustMaterial;
  readonly #ctlogThreshold: number;
  readonly #timestampThreshold: number;

  constructor(trust: TrustMaterial, options: VerifierOptions = {}) {
    super(trust, options);
    this.#trust = trust;
    // The library's defaults (verifier.js): one SCT, one verified time.
    this.#ctlogThreshold = options.ctlogThreshold ?? 1;
    this.#timestampThreshold = options.timestampThreshold ?? options.tsaThreshold ?? 1;
  }

  /** No identity policy here: sigward checks the identity itself, on the certificate (identity.ts). */
  override verify(entity: SignedEntity, ...policy: unknown[]): Signer {
    if (policy[0] !== undefined) throw new Error('CachedKeyVerifier takes no policy');
    const signer = this.verifyAllButSignature(entity);
    this.verifySignature(entity, signer);
    return signer;
  }

  /**
   * The library's `verify` up to the signature over the content: the times, the signing key at each,
   * the log entries (their inclusion, and their body against the signature and the message digest).
   * None reads the signed bytes, so a legacy layer's can still be on their way (verify.ts).
   */
  verifyAllButSignature(entity: SignedEntity): Signer {
    const timestamps = this.verifyTimestamps(entity);
    const signer = this.verifySigningKey(entity, timestamps);
    this.verifyTLogs(entity);
    return signer;
  }

  /** Every timestamp verified; the times, once each, at least the threshold. */
  override verifyTimestamps(entity: SignedEntity): Date[] {
    const found: { type: string; logID: Buffer; timestamp: Date }[] = [];
    for (const t of entity.timestamps) {
      if (t.$case === 'timestamp-authority') {
        verifyToken(t.timestamp, entity.signature.signature, this.#trust.timestampAuthorities);
        found.push({
          type: 'timestamp-authority',
          logID: t.timestamp.signerSerialNumber,
          timestamp: t.timestamp.signingTime,
        });
      } else {
        const logged = getTLogTimestamp(t.tlogEntry);
        if (logged) found.push(logged);
      }
    }
    if (hasDuplicates(found))
      throw new VerificationError({ code: 'TIMESTAMP_ERROR', message: 'duplicate timestamp' });
    if (found.length < this.#timestampThreshold)
      throw new VerificationError({
        code: 'TIMESTAMP_ERROR',
        message: `expected ${this.#timestampThreshold} timestamps, got ${found.length}`,
      });
    return found.map((f) => f.timestamp);
  }

  /** A certificate: its chain at every verified time, its SCTs; a key: the library's own step. */
  override verifySigningKey(entity: SignedEntity, timestamps: Date[]): Signer {
    if (entity.key.$case !== 'certificate') return super.verifySigningKey(entity, timestamps);
    const leaf = entity.key.certificate;
    if (timestamps.length === 0)
      throw new VerificationError({
        code: 'CERTIFICATE_ERROR',
        message: 'no verified time to check the certificate at',
      });
    // A leaf whose exact bytes passed this step before against this material: its issuers' signature
    // checks and its SCTs' answer are recalled (leaf-memo.ts); the chains still run at every time.
    const read = leaf instanceof CachedCertificate && leaf.readBytes !== undefined ? leaf : undefined;
    const memo = read === undefined ? undefined : leafMemoOf(this.#trust);
    const recalled = memo === undefined ? undefined : read?.recallFrom(memo);
    let path: X509Certificate[] = [];
    const issuers: X509Certificate[] = [];
    for (const time of timestamps) {
      path = verifyCertificateChain(time, leaf, this.#trust.certificateAuthorities);
      if (path[1] !== undefined) issuers.push(path[1]);
    }
    const [signer, issuer] = path;
    if (signer === undefined || issuer === undefined)
      throw new VerificationError({ code: 'CERTIFICATE_ERROR', message: 'the certificate has no issuer' });
    const recalledScts = recalled?.scts.get(issuer);
    const scts =
      recalledScts === undefined ? verifySCTs(signer, issuer, this.#trust.ctlogs) : [...recalledScts];
    if (hasDuplicates(scts))
      throw new VerificationError({ code: 'CERTIFICATE_ERROR', message: 'duplicate SCT' });
    if (scts.length < this.#ctlogThreshold)
      throw new VerificationError({
        code: 'CERTIFICATE_ERROR',
        message: `expected ${this.#ctlogThreshold} SCTs, got ${scts.length}`,
      });
    // Only now, the whole step passed: a failed or thrown check is never remembered.
    if (read !== undefined && memo !== undefined && signer === read) {
      for (const by of issuers) read.rememberIn(memo, by);
      if (recalledScts === undefined) memo.rememberScts(read.readBytes!, issuer, scts);
    }
    return { key: keyOf(signer) };
  }
}

function keyOf(cert: X509Certificate): KeyObject {
  return cert instanceof CachedCertificate ? cert.keyObject : sigstoreCrypto.createPublicKey(cert.publicKey);
}

function hasDuplicates(items: readonly unknown[]): boolean {
  for (let i = 0; i < items.length; i++)
    for (let j = i + 1; j < items.length; j++) if (isDeepStrictEqual(items[i], items[j])) return true;
  return false;
}

/**
 * An RFC 3161 token against the timestamp authorities valid at its time whose signing certificate has
 * the token's signer serial and issuer: at least one must hold a chain valid at that time and a key
 * that verifies the token (message imprint, signed attributes, signature: the token's own check).
 */
function verifyToken(token: RFC3161Timestamp, signature: Buffer, authorities: CertAuthority[]): void {
  const signingTime = token.signingTime;
  const candidates = filterCertAuthorities(authorities, signingTime).filter(
    ({ certChain: [leaf] }) =>
      leaf !== undefined &&
      sigstoreCrypto.bufferEqual(leaf.serialNumber, token.signerSerialNumber) &&
      sigstoreCrypto.bufferEqual(leaf.issuer, token.signerIssuer),
  );
  const verified = candidates.some((authority) => {
    try {
      verifyTokenWith(token, signature, authority);
      return true;
    } catch {
      return false;
    }
  });
  if (!verified)
    throw new VerificationError({ code: 'TIMESTAMP_ERROR', message: 'timestamp could not be verified' });
}

function verifyTokenWith(token: RFC3161Timestamp, signature: Buffer, authority: CertAuthority): void {
  const [leaf, ...issuers] = authority.certChain;
  if (leaf === undefined) throw new Error('empty chain');
  new CertificateChainVerifier({
    untrustedCert: leaf,
    trustedCerts: issuers,
    timestamp: token.signingTime,
  }).verify();
  token.verify(signature, keyOf(leaf));
}
