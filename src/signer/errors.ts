// Reason codes of the signer. Each names what the person running `sigward sign` must fix: the identity
// token, a Sigstore service, the registry, or the signature that came back. Messages and details never
// carry a token, a key or a registry password.
import { SigwardError, redactSecrets, type SafeDetails } from '../errors.ts';

export const SignerErrorCode = {
  /** No identity token source was found, or the one asked for is not there. */
  tokenMissing: 'SIGNER_TOKEN_MISSING',
  /** The token is not a JWT, or lacks the claims Fulcio needs. */
  tokenInvalid: 'SIGNER_TOKEN_INVALID',
  /** The token's `exp` has passed. */
  tokenExpired: 'SIGNER_TOKEN_EXPIRED',
  /** The token's `aud` does not include the audience Fulcio expects (`sigstore`). */
  tokenAudience: 'SIGNER_TOKEN_AUDIENCE',
  /** The signing config or a service override is unusable. */
  config: 'SIGNER_CONFIG',
  /** Fulcio refused or could not be reached. */
  fulcio: 'SIGNER_FULCIO',
  /** The certificate's SCT does not verify against the trusted root's CT logs. */
  sct: 'SIGNER_SCT',
  /** Rekor refused or could not be reached. */
  rekor: 'SIGNER_REKOR',
  /** The timestamp authority refused or could not be reached. */
  tsa: 'SIGNER_TSA',
  /** The pushed signature did not verify with sigward's own verifier. */
  selfCheck: 'SIGNER_SELF_CHECK',
  /** A predicate or another input file is unusable. */
  input: 'SIGNER_INPUT',
} as const;
export type SignerErrorCode = (typeof SignerErrorCode)[keyof typeof SignerErrorCode];

export class SignerError extends SigwardError {
  declare readonly code: SignerErrorCode;
  constructor(
    code: SignerErrorCode,
    message: string,
    options: { cause?: unknown; details?: SafeDetails } = {},
  ) {
    super(code, message, options);
    this.name = 'SignerError';
  }
}

/**
 * Removes every occurrence of the given secrets from a text (a service's error body may echo what it
 * was sent), and anything else shaped like a credential, whoever it belongs to: errors.ts'
 * redactSecrets, the one rule every message built from outside text follows.
 */
export function scrub(text: string, secrets: readonly string[] = []): string {
  return redactSecrets(text, secrets);
}
