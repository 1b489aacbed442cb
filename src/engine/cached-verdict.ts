// What the verdict cache keeps of a verification: only what policy evaluation reads (policy/evaluate's
// VerdictLike: status, code, message, and per signature who it credits, who refused it and why, and the
// signer a denial names). Where each signature was found, its times, referrer details and the image
// name are for the verification's own logs and the CLI, not for a cached answer; dropping them (and a
// verified signature's Fulcio extensions, which nothing reads unless an authority refused it) is what
// lets 100k verdicts fit in the memory budget.
import type { FoundSigner, VerdictLike } from '../policy/evaluate.ts';

type CachedSignature = VerdictLike['signatures'][number];

function signerWithoutExtensions(signer: FoundSigner): FoundSigner {
  return signer.kind === 'key'
    ? signer
    : { kind: 'certificate', issuer: signer.issuer, subject: signer.subject };
}

function compactSignature(s: CachedSignature): CachedSignature {
  if (!s.verified)
    return {
      verified: false,
      code: s.code,
      reason: s.reason,
      ...(s.signer === undefined ? {} : { signer: s.signer }),
    };
  const rejected = s.rejectedBy !== undefined && s.rejectedBy.length > 0;
  return {
    verified: true,
    authorities: s.authorities,
    ...(rejected ? { rejectedBy: s.rejectedBy } : {}),
    signer: rejected ? s.signer : signerWithoutExtensions(s.signer),
  };
}

/** The part of a verdict that evaluation reads, as a new object (nothing else of the verdict is kept alive). */
export function compactVerdict(verdict: VerdictLike): VerdictLike {
  return {
    status: verdict.status,
    code: verdict.code,
    message: verdict.message,
    signatures: verdict.signatures.map(compactSignature),
    ...(verdict.platforms === undefined ? {} : { platforms: verdict.platforms.map(compactVerdict) }),
    ...(verdict.index === undefined ? {} : { index: compactVerdict(verdict.index) }),
  };
}
