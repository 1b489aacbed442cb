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

interface RememberedKey {
  readonly digest: string;
  readonly generation: PolicySnapshotView['generation'];
  readonly rootName: string;
  readonly trustVersion: string;
  readonly keys: string;
  readonly index: string;
  readonly key: string;
}

/**
 * Verdict keys per (policy, reference) object: the policy is the snapshot's, the reference decide.ts's
 * remembered parse, so both go when they are no longer used. Only keys a cache held are remembered
 * (`peek`): remembering every key looked for kept ~400 bytes per (policy, image) while the verdict
 * cache filled with refusals of images seen once. One record per pair, a list only from the second.
 */
export class VerdictKeys {
  readonly #remembered = new WeakMap<
    CompiledPolicy,
    WeakMap<ImageReference, RememberedKey | RememberedKey[]>
  >();

  /** The key: remembered, or built and hashed (and not remembered). */
  key(
    policy: CompiledPolicy,
    reference: ImageReference,
    digest: string,
    snapshot: PolicySnapshotView,
    rootName: string,
    trustVersion: string,
    keys: string,
    index: string,
  ): string {
    const generation = snapshot.generation;
    return (
      this.#find(policy, reference, digest, generation, rootName, trustVersion, keys, index)?.key ??
      verdictKey(policy, reference, digest, generation, rootName, trustVersion, keys, index)
    );
  }

  /** What `cache` holds under the key, remembering the key when it holds something. */
  peek<T>(
    cache: { peek(key: string): T | undefined },
    policy: CompiledPolicy,
    reference: ImageReference,
    digest: string,
    snapshot: PolicySnapshotView,
    rootName: string,
    trustVersion: string,
    keys: string,
    index: string,
  ): T | undefined {
    const generation = snapshot.generation;
    const found = this.#find(policy, reference, digest, generation, rootName, trustVersion, keys, index);
    if (found !== undefined) return cache.peek(found.key);
    const key = verdictKey(policy, reference, digest, generation, rootName, trustVersion, keys, index);
    const value = cache.peek(key);
    if (value !== undefined)
      this.#remember(policy, reference, { digest, generation, rootName, trustVersion, keys, index, key });
    return value;
  }

  #find(
    policy: CompiledPolicy,
    reference: ImageReference,
    digest: string,
    generation: string,
    rootName: string,
    trustVersion: string,
    keys: string,
    index: string,
  ): RememberedKey | undefined {
    const remembered = this.#remembered.get(policy)?.get(reference);
    if (remembered === undefined) return undefined;
    if (!Array.isArray(remembered))
      return sameKey(remembered, digest, generation, rootName, trustVersion, keys, index)
        ? remembered
        : undefined;
    for (const k of remembered)
      if (sameKey(k, digest, generation, rootName, trustVersion, keys, index)) return k;
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

function sameKey(
  k: RememberedKey,
  digest: string,
  generation: string,
  rootName: string,
  trustVersion: string,
  keys: string,
  index: string,
): boolean {
  return (
    k.digest === digest &&
    k.generation === generation &&
    k.rootName === rootName &&
    k.trustVersion === trustVersion &&
    k.keys === keys &&
    k.index === index
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
function verdictKey(
  policy: CompiledPolicy,
  reference: ImageReference,
  digest: string,
  generation: string,
  rootName: string,
  trustVersion: string,
  keys: string,
  index: string,
): string {
  return hash(
    'sha256',
    `${repositoryString(reference)}|${digest}|${policy.kind}|${policy.namespace ?? ''}|${policy.displayName}|${generation}|${rootName}|${trustVersion}|${keys}|${index}`,
    // Any Buffer encoding is accepted at run time; the typings list only hex/base64/base64url.
    'latin1' as BinaryToTextEncoding,
  );
}
