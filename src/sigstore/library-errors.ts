// Anything @sigstore/verify throws → a SigstoreError with a code. Other exception types than its own
// can escape it (TypeError, ASN.1 and JSON errors): they become SIGSTORE_VERIFICATION_FAILED, never an
// untyped throw and never an allow.
import { PolicyError, VerificationError } from '@sigstore/verify';
import { SigstoreError, SigstoreErrorCode } from './errors.ts';

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
