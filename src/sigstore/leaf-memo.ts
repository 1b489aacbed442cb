// What a Fulcio leaf proved against one trust material, remembered by the leaf's exact DER bytes: the
// trust material's CA certificates whose key verified the leaf's signature, and what the library's
// verifySCTs answered with each of them as the issuer. cosign signs every image of one invocation (and
// every platform of `--recursive`) with one ephemeral certificate, and a verdict that expires or a
// policy change verifies the same signatures again: their leaf is then checked without the P-384
// signature of its issuer (~0.7 ms) and the SCT's P-256 one.
// Why that is sound: a (leaf, issuer) signature check reads the leaf's TBS bytes, signature value and
// algorithm (all inside its DER) and the issuer's key; verifySCTs reads the leaf's DER, the issuer's
// key and the trust material's CT logs (each SCT's own time picks the log). Neither reads anything of
// the bundle, so the same bytes against the same objects give the same answer. What depends on the
// bundle still runs on every verification through the library's own code: which CAs are valid at each
// verified time, the path, every certificate's validity at each time, the SCT threshold and duplicates.
// The key is the DER itself (a latin1 string is byte for byte the DER: equal keys are equal bytes), not
// a serial or a digest: no collision argument needed. Only passed checks go in (CachedCertificate
// records a signature only after OpenSSL or a recalled pass answered true, the verifier only after the
// whole signing-key step passed); a new trust-root version is a new TrustMaterial object, so it starts
// with an empty memo, and the memo goes with its material.
import type { TrustMaterial } from '@sigstore/verify';
import { LRUCache } from 'lru-cache';

/** Leaves remembered per trust material: ~1.3 KiB of DER each for a Fulcio leaf, ≤ ~0.5 MiB in all. */
export const LEAF_MEMO_CAPACITY = 256;
/** What memos made from now on hold (`sigward webhook --leaf-memo-entries`; 0: none). */
let entries = LEAF_MEMO_CAPACITY;

/** Sets how many leaves each memo made from now on keeps (at start, before any verification). */
export function setLeafMemoEntries(n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`leaf memo entries: ${n}`);
  entries = n;
}

/** What one leaf's exact bytes proved: CA certificate objects of the material, never the bundle's. */
export interface RememberedLeaf {
  /** Issuers whose key verified the leaf's signature. */
  readonly issuers: ReadonlySet<object>;
  /** verifySCTs' answer (the SCTs' log IDs) with each issuer, after the whole step passed with it. */
  readonly scts: ReadonlyMap<object, readonly Buffer[]>;
}

interface Entry {
  readonly issuers: Set<object>;
  readonly scts: Map<object, readonly Buffer[]>;
}

export class LeafMemo {
  /** Undefined with no entries (lru-cache needs a max of at least one). */
  readonly #leaves: LRUCache<string, Entry> | undefined;

  constructor(capacity = LEAF_MEMO_CAPACITY) {
    this.#leaves = capacity === 0 ? undefined : new LRUCache({ max: capacity });
  }

  get size(): number {
    return this.#leaves?.size ?? 0;
  }

  /** What these exact bytes proved before, if anything (and it becomes the most recently used). */
  recall(der: Uint8Array): RememberedLeaf | undefined {
    return this.#leaves?.get(keyOf(der));
  }

  /** A signature of these bytes that `issuer`'s key verified (CachedCertificate.rememberIn calls it). */
  rememberIssuer(der: Uint8Array, issuer: object): void {
    if (this.#leaves === undefined) return;
    const key = keyOf(der);
    let entry = this.#leaves.get(key);
    if (entry === undefined) {
      entry = { issuers: new Set(), scts: new Map() };
      this.#leaves.set(key, entry);
    }
    entry.issuers.add(issuer);
  }

  /** verifySCTs' answer for these bytes with `issuer`, whose signature check is remembered already. */
  rememberScts(der: Uint8Array, issuer: object, logIDs: readonly Buffer[]): void {
    const entry = this.#leaves?.peek(keyOf(der));
    if (entry === undefined || !entry.issuers.has(issuer)) return;
    // Copies of exactly their bytes: a log ID read from the leaf can be a view of a larger buffer.
    entry.scts.set(
      issuer,
      logIDs.map((id) => Buffer.from(new Uint8Array(id).buffer)),
    );
  }

  clear(): void {
    this.#leaves?.clear();
  }
}

/**
 * The bytes as they are now, every call: a key kept per buffer would outlive a change of its bytes
 * (~2 µs a call for a Fulcio leaf).
 */
function keyOf(der: Uint8Array): string {
  return Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('latin1');
}

const memos = new WeakMap<TrustMaterial, LeafMemo>();

/** The memo of this trust material (one per trust-root version: its snapshot's material object). */
export function leafMemoOf(trust: TrustMaterial): LeafMemo {
  let memo = memos.get(trust);
  if (memo === undefined) {
    memo = new LeafMemo(entries);
    memos.set(trust, memo);
  }
  return memo;
}

/** Forgets every leaf remembered for this trust material (benches measuring a leaf seen first). */
export function forgetLeaves(trust: TrustMaterial): void {
  memos.get(trust)?.clear();
}
