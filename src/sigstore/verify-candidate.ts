// One discovered signature against a set of authorities: verifyBundle over the admitted digest (never
// a referrer's subject), then each authority's identity check. Says who signed and EVERY authority
// that accepts it (a threshold counts distinct authorities, and one signature may satisfy several), or
// why it failed with a reason code; when every authority fails, the failure that got furthest is the
// one reported.
import type { KeyObject } from 'node:crypto';
import type { TrustMaterial } from '@sigstore/verify';
import { SigwardError } from '../errors.ts';
import type { RepositoryName } from '../oci/index.ts';
import type { SignatureCandidate, SignatureLocation } from './discover.ts';
import type { CertificateIdentity, FulcioExtensionName } from './identity.ts';
import type { InTotoStatement } from './statement.ts';
import type { Bundle } from './bundle.ts';
import { startVerifyBundle, verifyBundle } from './verify.ts';
import type { SignerTrust, VerifiedSignature, VerifyInput } from './verify.ts';

export type IdentityOutcome =
  { readonly matched: true } | { readonly matched: false; readonly code: string; readonly reason: string };

/** Who may sign: keyless identities (Fulcio certificates) or a public key. */
export type Authority =
  | {
      readonly kind: 'keyless';
      readonly name: string;
      readonly match: (identity: CertificateIdentity) => IdentityOutcome;
      /** Default true; false = --insecure-ignore-tlog (time from a TSA only). */
      readonly requireTlog?: boolean;
      /** Default true; false = --insecure-ignore-sct (a private Fulcio without CT log). */
      readonly requireSct?: boolean;
    }
  | {
      readonly kind: 'key';
      readonly name: string;
      readonly publicKey: KeyObject;
      /** Default true; false = --insecure-ignore-tlog. */
      readonly requireTlog?: boolean;
    };

/** Who a verified signature proves signed: a certificate's identity, or the trusted key. */
export type ProvenSigner =
  | {
      readonly kind: 'certificate';
      readonly issuer: string | undefined;
      readonly subject: string | undefined;
      readonly extensions: Readonly<Partial<Record<FulcioExtensionName, string>>>;
    }
  | { readonly kind: 'key' };

export type SignatureOutcome = {
  readonly location: SignatureLocation;
  readonly format: 'bundle' | 'legacy';
} & (
  | {
      readonly verified: true;
      /** Every authority that accepts this signature, in the order given (never empty). */
      readonly authorities: readonly string[];
      /** Why each other authority refused it (a threshold denial tells it for the ones that fell short). */
      readonly rejectedBy: readonly AuthorityRejection[];
      readonly signer: ProvenSigner;
      readonly signedAt: readonly string[];
      /** The verified in-toto statement of a DSSE bundle (attestations read their predicate here). */
      readonly statement?: InTotoStatement;
    }
  | {
      readonly verified: false;
      readonly code: string;
      readonly reason: string;
      /** Who did sign, when the signature verified but names someone the authorities do not accept. */
      readonly signer?: ProvenSigner;
    }
);

type Failure = { code: string; reason: string; signer?: ProvenSigner };

export interface AuthorityRejection {
  readonly authority: string;
  readonly code: string;
  readonly reason: string;
}

export interface CandidateContext {
  readonly authorities: readonly Authority[];
  readonly trust: TrustMaterial;
  /** Set to also require a legacy payload's docker-reference to name this repository. */
  readonly dockerReference?: RepositoryName;
  /**
   * Keyless verification results shared between calls over the same candidates (several authorities
   * checked one at a time): the cryptography of a signature runs once, whoever asks.
   */
  readonly keylessResults?: KeylessResults;
  /** The predicate type the statement must have (attestations); default an image signature's. */
  readonly predicateType?: string;
  /** Verifications of legacy signatures started before their payloads arrived (headStart). */
  readonly headStarts?: HeadStarts;
}

/** Per bundle, per authority: the first step of its verification (verify.ts startVerifyBundle), run once. */
export type HeadStarts = WeakMap<Bundle, Map<Authority, () => FinishVerification | undefined>>;
type FinishVerification = (payload: Uint8Array) => VerifiedSignature;

/** Per candidate, per set of log/SCT options: the keyless verification, or why it failed. */
export type KeylessResults = WeakMap<SignatureCandidate, Map<string, VerifiedSignature | SigwardError>>;

export function verifyCandidate(
  input: CandidateContext,
  candidate: SignatureCandidate,
  digest: string,
): SignatureOutcome {
  const base = { location: candidate.location, format: candidate.format };
  if (candidate.bundle === undefined) {
    const problem = candidate.problem;
    return {
      ...base,
      verified: false,
      code: problem?.code ?? 'SIGSTORE_BUNDLE_MALFORMED',
      reason: problem?.message ?? 'unreadable',
    };
  }
  const failures: Failure[] = [];
  const several = input.authorities.length > 1;
  // Keyless authorities share one cryptographic verification per set of log/SCT options.
  let keylessResults = input.keylessResults?.get(candidate);
  if (keylessResults === undefined) {
    keylessResults = new Map();
    input.keylessResults?.set(candidate, keylessResults);
  }
  const bundle = candidate.bundle;
  const payload = candidate.payload;
  const run = (authority: Authority): VerifiedSignature => {
    const started = payload === undefined ? undefined : input.headStarts?.get(bundle)?.get(authority)?.();
    if (started !== undefined && payload !== undefined) return started(payload);
    return verifyBundle(verifyInput(input, bundle, digest, authority, payload));
  };
  const accepted: string[] = [];
  const rejectedBy: AuthorityRejection[] = [];
  let proven: { signer: ProvenSigner; signedAt: string[]; statement?: InTotoStatement } | undefined;
  for (const authority of input.authorities) {
    const label = several ? `${authority.name}: ` : '';
    let result: VerifiedSignature | SigwardError;
    if (authority.kind === 'key') {
      result = attempt(() => run(authority));
    } else {
      const key = keylessOptions(authority);
      result = keylessResults.get(key) ?? attempt(() => run(authority));
      keylessResults.set(key, result);
    }
    if (result instanceof SigwardError) {
      failures.push({ code: result.code, reason: `${label}${result.message}` });
      rejectedBy.push({ authority: authority.name, code: result.code, reason: result.message });
      continue;
    }
    const signedAt = result.signedAt.map((d) => d.toISOString());
    const statement = result.statement === undefined ? {} : { statement: result.statement };
    if (result.identity.kind === 'key') {
      accepted.push(authority.name);
      proven ??= { signer: { kind: 'key' }, signedAt, ...statement };
      continue;
    }
    if (authority.kind !== 'keyless') continue; // verifyBundle refuses a certificate for a key already
    const signer: ProvenSigner = {
      kind: 'certificate',
      issuer: result.identity.issuer,
      subject: result.identity.subject,
      extensions: result.identity.extensions,
    };
    const match = authority.match(result.identity);
    if (match.matched) {
      accepted.push(authority.name);
      proven ??= { signer, signedAt, ...statement };
      continue;
    }
    failures.push({ code: match.code, reason: `${label}${match.reason}`, signer });
    rejectedBy.push({ authority: authority.name, code: match.code, reason: match.reason });
  }
  if (proven !== undefined) return { ...base, verified: true, authorities: accepted, rejectedBy, ...proven };
  return { ...base, verified: false, ...decisiveFailure(failures) };
}

/**
 * Starts verifying legacy signature bundles whose payloads are still being fetched, for each authority:
 * on the next turn of the event loop (once the payload requests are sent), or earlier if verifyCandidate
 * asks for one first. verifyCandidate finishes it when the payload arrives, with verifyBundle's answer.
 */
export function headStart(
  input: CandidateContext & { readonly headStarts: HeadStarts },
  bundles: readonly Bundle[],
  digest: string,
): void {
  const starts: (() => unknown)[] = [];
  for (const bundle of bundles) {
    const byAuthority = new Map<Authority, () => FinishVerification | undefined>();
    // Keyless authorities with the same log/SCT options share one verification (keylessResults).
    const keyless = new Map<string, () => FinishVerification | undefined>();
    for (const authority of input.authorities) {
      const options = authority.kind === 'keyless' ? keylessOptions(authority) : undefined;
      let start = options === undefined ? undefined : keyless.get(options);
      if (start === undefined) {
        start = once(() => startVerifyBundle(verifyInput(input, bundle, digest, authority, undefined)));
        if (options !== undefined) keyless.set(options, start);
        starts.push(start);
      }
      byAuthority.set(authority, start);
    }
    input.headStarts.set(bundle, byAuthority);
  }
  setImmediate(() => {
    for (const start of starts) {
      // Never thrown here, from the event loop: a start that throws (a bug; the steps keep their own
      // failures) is run again by the verification that needs it, which reports what it throws.
      try {
        start();
      } catch {
        // reported there
      }
    }
  });
}

/** What a keyless verification depends on besides the bundle: its log and SCT options. */
function keylessOptions(authority: Authority & { kind: 'keyless' }): string {
  return `${authority.requireTlog !== false}/${authority.requireSct !== false}`;
}

function once<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}

/** What verifyBundle checks one candidate bundle against for one authority. */
function verifyInput(
  input: CandidateContext,
  bundle: Bundle,
  digest: string,
  authority: Authority,
  payload: Uint8Array | undefined,
): VerifyInput {
  const signer: SignerTrust =
    authority.kind === 'key'
      ? { kind: 'key', publicKey: authority.publicKey, ...tlog(authority.requireTlog) }
      : {
          kind: 'keyless',
          ...tlog(authority.requireTlog),
          ...(authority.requireSct === undefined ? {} : { requireSct: authority.requireSct }),
        };
  return {
    bundle,
    trust: input.trust,
    signer,
    content: {
      kind: 'image',
      digest,
      ...(payload === undefined ? {} : { payload }),
      ...(input.dockerReference === undefined ? {} : { repository: input.dockerReference }),
      ...(input.predicateType === undefined ? {} : { predicateType: input.predicateType }),
    },
  };
}

/** A SigstoreError (any SigwardError) as a value; anything else is a bug and is thrown. */
function attempt(verify: () => VerifiedSignature): VerifiedSignature | SigwardError {
  try {
    return verify();
  } catch (error) {
    if (error instanceof SigwardError) return error;
    throw error;
  }
}

function tlog(requireTlog: boolean | undefined): { requireTlog?: boolean } {
  return requireTlog === undefined ? {} : { requireTlog };
}

/**
 * The failure to report when several happened: the one that got furthest. A signature that verified
 * but names someone else says more than one that was signed with another kind of key.
 */
export function decisiveFailure<T extends { code: string; reason: string }>(
  failures: readonly T[],
): T | { code: string; reason: string } {
  const rank = (code: string): number => {
    if (code.startsWith('IDENTITY_')) return 5;
    if (code === 'SIGSTORE_CONTENT_MISMATCH') return 4;
    if (code === 'SIGSTORE_KEY_UNTRUSTED') return 1;
    if (code.startsWith('SIGSTORE_')) return 3;
    return 2;
  };
  let best: T | { code: string; reason: string } = failures[0] ?? {
    code: 'SIGSTORE_VERIFICATION_FAILED',
    reason: 'no authority applied',
  };
  for (const f of failures) if (rank(f.code) > rank(best.code)) best = f;
  return best;
}
