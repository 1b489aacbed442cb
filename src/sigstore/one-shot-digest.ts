// @sigstore/core's `crypto.digest(algorithm, ...parts)` makes a node:crypto Hash object per call
// (createHash, one update per part, digest), and a bundle's verification calls it ~24 times: the
// Rekor inclusion proof's leaf and every node on its path (18 for a public-good entry today), the
// SCT's issuer key hash, the RFC 3161 token's two imprints, the DSSE envelope's hash. Node's one-shot
// `crypto.hash` gives the same digest of the parts' concatenation without the object (~1.9 → ~1.1 µs
// for a Merkle node). Set once on the library's own export object, which @sigstore/verify and
// @sigstore/core read at each call (`core_1.crypto.digest(…)`, `crypto.digest(…)`): the same
// function for every caller in the process. Anything but byte parts and the SHA-2 names the library
// asks for (a string part, an unknown or missing algorithm) goes to the library's own function, so
// its results and its errors are unchanged (test/sigstore/one-shot-digest.test.ts).
import { hash } from 'node:crypto';
import { crypto as sigstoreCrypto } from '@sigstore/core';

type Digest = typeof sigstoreCrypto.digest;

/** The names @sigstore/core passes (its SHA2 tables and literals), the only ones taken here. */
const ONE_SHOT = new Set(['sha256', 'sha384', 'sha512']);

/** The library's own digest, as it was before this module set its own. */
export const libraryDigest: Digest = sigstoreCrypto.digest;

/** crypto.digest's result, computed with one `crypto.hash` over the parts. */
export const oneShotDigest: Digest = (algorithm, ...parts) => {
  if (!ONE_SHOT.has(algorithm)) return libraryDigest(algorithm, ...parts);
  if (parts.length === 1) {
    const [only] = parts;
    if (only instanceof Uint8Array) return hash(algorithm, only, 'buffer');
  } else if (parts.every((part) => part instanceof Uint8Array))
    return hash(algorithm, Buffer.concat(parts as Uint8Array[]), 'buffer');
  return libraryDigest(algorithm, ...parts);
};

(sigstoreCrypto as { digest: Digest }).digest = oneShotDigest;
