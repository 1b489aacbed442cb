// The key a verdict (or an attestation outcome) is cached under, and the memory of the keys a cache
// held, so that a cache hit finds its key without building the text or hashing it again.
import { hash } from 'node:crypto';
import type { BinaryToTextEncoding } from 'node:crypto';
import { repositoryString } from '../oci/index.ts';
import type { ImageReference } from '../oci/index.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import type { PolicySnapshotView } from './ports.ts';

/** Keys remembered per policy and reference (a tag's digest changes; a root's version too). */
const KEYS_PER_REFERENCE = 4;
/** Keys last built, whether a cache held them or not: the reviews in flight (a few dozen). */
const RECENT_KEYS = 64;

/**
 * What an image's verdict (or attestation outcome) is judged by: every part of its key but the image and
 * the index relied on. One object while none of its parts changes (`VerdictScopeSlot`), so that a cache
 * hit reads it without building anything.
 */
export interface VerdictScope {
  readonly policy: CompiledPolicy;
  /** The policy snapshot's generation. */
  readonly generation: PolicySnapshotView['generation'];
  /** The TrustRoot the authorities name, and the version of its trusted root. */
  readonly rootName: string;
  readonly trustVersion: string;
  /** The authorities' keys: sha256 fingerprints, `-` for a keyless authority, comma-separated. */
  readonly keys: string;
}

/**
 * The scope of one set of authorities (those of a policy's trust-root group that check signatures, or
 * those that check attestations), made once per policy: `at` hands out the same VerdictScope until the
 * snapshot's generation, the root's version or the keys change.
 */
export class VerdictScopeSlot {
  readonly #policy: CompiledPolicy;
  readonly #rootName: string;
  #current: VerdictScope | undefined;

  constructor(policy: CompiledPolicy, rootName: string) {
    this.#policy = policy;
    this.#rootName = rootName;
  }

  at(snapshot: PolicySnapshotView, trust: { readonly version: string }, keys: string): VerdictScope {
    const current = this.#current;
    if (
      current !== undefined &&
      current.generation === snapshot.generation &&
      current.trustVersion === trust.version &&
      current.keys === keys
    )
      return current;
    return (this.#current = {
      policy: this.#policy,
      generation: snapshot.generation,
      rootName: this.#rootName,
      trustVersion: trust.version,
      keys,
    });
  }
}

interface RememberedKey {
  readonly digest: string;
  /** The scope the key was made in: its parts are compared, not its identity. */
  readonly scope: VerdictScope;
  readonly index: string;
  readonly key: string;
}

/**
 * Verdict keys per (policy, reference) object: the policy is the snapshot's, the reference decide.ts's
 * remembered parse, so both go when they are no longer used. Only keys a cache held are remembered
 * (`peek`): remembering every key looked for kept ~400 bytes per (policy, image) while the verdict
 * cache filled with refusals of images seen once. One record per pair, a list only from the second.
 * `index` is the multi-arch index a signature verdict relied on (`''`: none), or an attestation
 * outcome's set of authorities and predicate types.
 */
export class VerdictKeys {
  readonly #remembered = new WeakMap<
    CompiledPolicy,
    WeakMap<ImageReference, RememberedKey | RememberedKey[]>
  >();

  /**
   * The last RECENT_KEYS keys built, by reference (the last one per reference): a cold review builds its
   * key to look the cache up (`peek`), then asks for it again to verify under it (`key`). Bounded, so
   * that images seen once keep nothing for long (see above).
   */
  readonly #recent = new Map<ImageReference, RememberedKey>();

  /** The key: remembered, or built and hashed (and not remembered). */
  key(scope: VerdictScope, reference: ImageReference, digest: string, index: string): string {
    return this.#find(scope, reference, digest, index)?.key ?? this.#built(scope, reference, digest, index);
  }

  /** What `cache` holds under the key, remembering the key when it holds something. */
  peek<T>(
    cache: { peek(key: string): T | undefined },
    scope: VerdictScope,
    reference: ImageReference,
    digest: string,
    index: string,
  ): T | undefined {
    const found = this.#find(scope, reference, digest, index);
    if (found !== undefined) return cache.peek(found.key);
    const key = this.#built(scope, reference, digest, index);
    const value = cache.peek(key);
    if (value !== undefined) this.#remember(scope.policy, reference, { digest, scope, index, key });
    return value;
  }

  /** verdictKey, or the same key built a moment ago for the same parts (#recent). */
  #built(scope: VerdictScope, reference: ImageReference, digest: string, index: string): string {
    const recent = this.#recent.get(reference);
    if (recent !== undefined && recent.scope.policy === scope.policy && sameKey(recent, scope, digest, index))
      return recent.key;
    const key = verdictKey(scope, reference, digest, index);
    if (recent !== undefined) this.#recent.delete(reference);
    else if (this.#recent.size >= RECENT_KEYS) this.#recent.delete(this.#recent.keys().next().value!);
    this.#recent.set(reference, { digest, scope, index, key });
    return key;
  }

  #find(
    scope: VerdictScope,
    reference: ImageReference,
    digest: string,
    index: string,
  ): RememberedKey | undefined {
    const remembered = this.#remembered.get(scope.policy)?.get(reference);
    if (remembered === undefined) return undefined;
    if (!Array.isArray(remembered)) return sameKey(remembered, scope, digest, index) ? remembered : undefined;
    for (const k of remembered) if (sameKey(k, scope, digest, index)) return k;
    return undefined;
  }

  #remember(policy: CompiledPolicy, reference: ImageReference, key: RememberedKey): void {
    let byReference = this.#remembered.get(policy);
    if (byReference === undefined) this.#remembered.set(policy, (byReference = new WeakMap()));
    const remembered = byReference.get(reference);
    if (remembered === undefined) byReference.set(reference, key);
    else if (!Array.isArray(remembered)) byReference.set(reference, [remembered, key]);
    else {
      if (remembered.length >= KEYS_PER_REFERENCE) remembered.shift();
      remembered.push(key);
    }
  }
}

/**
 * The policy and the reference were matched by the maps the key was found in; the rest here. A scope is
 * never changed, so the one the key was made in (a cache hit's usual case) needs no part compared.
 */
function sameKey(k: RememberedKey, scope: VerdictScope, digest: string, index: string): boolean {
  return (
    k.digest === digest &&
    k.index === index &&
    (k.scope === scope ||
      (k.scope.generation === scope.generation &&
        k.scope.rootName === scope.rootName &&
        k.scope.trustVersion === scope.trustVersion &&
        k.scope.keys === scope.keys))
  );
}

/**
 * sha256 of (repository, digest, policy, policy generation, trust root and its version, keys, index
 * relied on), each part unambiguous (names and digests cannot hold `|`).
 * The display name, not the name: a policy-controller ClusterImagePolicy may share its name with a
 * sigward one (`x` and `x (policy.sigstore.dev)`); their verdicts must never mix. A policy's inline key
 * is covered by its generation; a Secret's key is not, so `keys` holds their fingerprints: a rotated
 * Secret never meets the old key's verdict.
 * Hashed: ~250 characters of names and digests become the 32 bytes of the sha256 as a one-byte string
 * (48 bytes of heap; base64url's 43 characters take 64), which matters at 100k entries.
 */
function verdictKey(scope: VerdictScope, reference: ImageReference, digest: string, index: string): string {
  const { policy, generation, rootName, trustVersion, keys } = scope;
  return hash(
    'sha256',
    `${repositoryString(reference)}|${digest}|${policy.kind}|${policy.namespace ?? ''}|${policy.displayName}|${generation}|${rootName}|${trustVersion}|${keys}|${index}`,
    // Any Buffer encoding is accepted at run time; the typings list only hex/base64/base64url.
    'latin1' as BinaryToTextEncoding,
  );
}
