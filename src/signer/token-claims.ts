// What sigward reads from an identity token before sending it to Fulcio: issuer, subject, audience and
// expiry, unverified (Fulcio verifies the signature against the issuer). The checks here only turn a
// token Fulcio would refuse anyway into a clear error before anything is signed or pushed. The token
// itself never goes into a message.
import { SignerError, SignerErrorCode } from './errors.ts';

export interface TokenClaims {
  readonly issuer: string;
  /** `sub`; for a Kubernetes service account `system:serviceaccount:<ns>:<sa>`. */
  readonly subject: string;
  readonly email?: string;
  readonly audiences: readonly string[];
  readonly expiresAt?: Date;
}

export interface ClaimExpectations {
  /** The audience Fulcio accepts (its client ID); `sigstore` for public-good and most deployments. */
  readonly audience: string;
  /** Where the token came from, in words (`the Kubernetes token file /var/run/…`). */
  readonly source: string;
  readonly now?: Date;
}

const jwtShape = /^[A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]*$/;

/** Whether a string has the shape of a compact JWT (three base64url parts). */
export function looksLikeJwt(value: string): boolean {
  return jwtShape.test(value.trim());
}

function invalid(source: string, why: string): SignerError {
  return new SignerError(SignerErrorCode.tokenInvalid, `the identity token from ${source} ${why}`, {
    details: { source },
  });
}

/** Decodes the claims of a compact JWT without verifying it; throws SIGNER_TOKEN_INVALID. */
export function readClaims(token: string, source: string): TokenClaims {
  const match = jwtShape.exec(token.trim());
  if (match === null) throw invalid(source, 'is not a JWT');
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(match[1] ?? '', 'base64url').toString('utf8'));
  } catch {
    throw invalid(source, 'has a payload that is not JSON');
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw invalid(source, 'has a payload that is not a JSON object');
  }
  const claims = payload as Record<string, unknown>;
  const { iss, sub, aud, exp, email } = claims;
  if (typeof iss !== 'string' || iss.length === 0) throw invalid(source, 'has no issuer (iss)');
  if (typeof sub !== 'string' || sub.length === 0) throw invalid(source, 'has no subject (sub)');
  const audiences =
    typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a) => typeof a === 'string') : [];
  return {
    issuer: iss,
    subject: sub,
    ...(typeof email === 'string' && email.length > 0 ? { email } : {}),
    audiences,
    ...(typeof exp === 'number' && Number.isFinite(exp) ? { expiresAt: new Date(exp * 1000) } : {}),
  };
}

/**
 * Claims of a token Fulcio can accept: not expired, for the expected audience. Throws
 * SIGNER_TOKEN_EXPIRED or SIGNER_TOKEN_AUDIENCE with the source and the claim, never the token.
 */
export function checkClaims(token: string, expected: ClaimExpectations): TokenClaims {
  const claims = readClaims(token, expected.source);
  const now = expected.now ?? new Date();
  if (claims.expiresAt !== undefined && claims.expiresAt.getTime() <= now.getTime()) {
    throw new SignerError(
      SignerErrorCode.tokenExpired,
      `the identity token from ${expected.source} expired at ${claims.expiresAt.toISOString()} (issuer ${claims.issuer}, subject ${claims.subject}); get a fresh one`,
      { details: { source: expected.source, expiresAt: claims.expiresAt.toISOString() } },
    );
  }
  if (!claims.audiences.includes(expected.audience)) {
    const found = claims.audiences.length === 0 ? 'none' : claims.audiences.map((a) => `"${a}"`).join(', ');
    throw new SignerError(
      SignerErrorCode.tokenAudience,
      `the identity token from ${expected.source} is for audience ${found}, but Fulcio expects "${expected.audience}" (a Kubernetes projected token needs audience: ${expected.audience})`,
      { details: { source: expected.source, audience: found } },
    );
  }
  return claims;
}

/** What the proof of possession signs: the email when the token has one, else the subject (Fulcio's rule). */
export function proofSubject(claims: TokenClaims): string {
  return claims.email ?? claims.subject;
}
