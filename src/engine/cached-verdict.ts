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

/** Distinct cached values remembered for sharing before the table starts over (a few KB each at most). */
export const SHARED_VALUES = 4096;

/**
 * One frozen object for every cached value with the same content. Most cached verdicts are alike (an
 * allow by one identity: status, message, the authorities it credits and the signer; a refusal of one
 * repository), so a cache entry costs its key and its slot, not a copy of the verdict (~750 → ~150 bytes
 * per entry at 100k). Bounded: after `max` distinct contents the table starts over; values already
 * handed out stay valid (frozen, read-only), later equal ones get a new shared object.
 */
export class SharedValues {
  readonly #max: number;
  readonly #byContent = new Map<string, object>();

  constructor(max = SHARED_VALUES) {
    this.#max = max;
  }

  /** Distinct contents held now (at most `max`). */
  get size(): number {
    return this.#byContent.size;
  }

  /**
   * The shared, deeply frozen object with `value`'s content. `value` must be plain data (strings,
   * numbers, booleans, arrays, objects): what is kept is its JSON, parsed again, so it is exactly the
   * content it is shared under, and nothing of `value` itself is kept alive or frozen.
   */
  share<V extends object>(value: V): V {
    const content = JSON.stringify(value);
    const known = this.#byContent.get(content);
    if (known !== undefined) return known as V;
    if (this.#byContent.size >= this.#max) this.#byContent.clear();
    const shared = deepFreeze(JSON.parse(content) as V);
    this.#byContent.set(content, shared);
    return shared;
  }
}

function deepFreeze<V>(value: V): V {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
