// Reason codes of the sigstore layer. Callers branch on these, never on message text. The split
// follows what an operator must do next: a broken signature, an untrusted chain, a bad log entry and
// a bad timestamp are different problems, and "signed, but not this image" is different again.
import { SigwardError } from '../errors.ts';
import type { SafeDetails } from '../errors.ts';

export const SigstoreErrorCode = {
  /** The bundle (or legacy layer) is not well-formed: JSON, base64, fields, versions. */
  bundleMalformed: 'SIGSTORE_BUNDLE_MALFORMED',
  /** The signature does not verify over the signed content (crypto failure). */
  signatureInvalid: 'SIGSTORE_SIGNATURE_INVALID',
  /** The certificate does not chain to a trusted CA at signing time, or its SCTs do not verify. */
  certificateUntrusted: 'SIGSTORE_CERTIFICATE_UNTRUSTED',
  /** The public key is not the trusted key, or not valid at signing time. */
  keyUntrusted: 'SIGSTORE_KEY_UNTRUSTED',
  /** A configured public key cannot be parsed. */
  keyMalformed: 'SIGSTORE_KEY_MALFORMED',
  /** The transparency log entry is missing, not proven (SET / inclusion proof / checkpoint), or does not match. */
  tlogInvalid: 'SIGSTORE_TLOG_INVALID',
  /** A signed timestamp (RFC 3161) does not verify, or there are too few timestamps. */
  timestampInvalid: 'SIGSTORE_TIMESTAMP_INVALID',
  /** Signature and log are fine, but what was signed is not what we admit (digest, payload, statement). */
  contentMismatch: 'SIGSTORE_CONTENT_MISMATCH',
  /** A feature of the bundle that the verifier does not implement. */
  unsupported: 'SIGSTORE_UNSUPPORTED',
  /** The trusted root is malformed or unsafe (e.g. an authority without `validFor.start`). */
  trustRootInvalid: 'SIGSTORE_TRUST_ROOT_INVALID',
  /** Fetching or refreshing the trusted root failed (TUF). */
  trustRootUnavailable: 'SIGSTORE_TRUST_ROOT_UNAVAILABLE',
  /** Anything else the library threw; still a failure, never an allow. */
  verificationFailed: 'SIGSTORE_VERIFICATION_FAILED',
} as const;
export type SigstoreErrorCode = (typeof SigstoreErrorCode)[keyof typeof SigstoreErrorCode];

export class SigstoreError extends SigwardError {
  declare readonly code: SigstoreErrorCode;
  constructor(
    code: SigstoreErrorCode,
    message: string,
    options: { cause?: unknown; details?: SafeDetails } = {},
  ) {
    super(code, message, options);
    this.name = 'SigstoreError';
  }
}
