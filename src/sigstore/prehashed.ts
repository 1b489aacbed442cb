// Signature check over a digest instead of the message, for `verify-bundle … sha256:<hex>` where only
// the artifact's digest is known. Node's crypto always hashes the message itself, so ECDSA (P-256,
// P-384) is verified here from the curve equations (public values only, nothing secret, so constant
// time does not matter), and RSA PKCS#1 v1.5 by recovering the DigestInfo. The webhook never needs
// this: it always has the signed payload bytes.
import { createHash, constants, publicDecrypt } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { ASN1Obj } from '@sigstore/core';

interface Curve {
  p: bigint;
  a: bigint;
  n: bigint;
  g: Point;
}
type Point = { x: bigint; y: bigint } | null;

const CURVES: Record<string, Curve> = {
  'P-256': {
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    a: 0xffffffff00000001000000000000000000000000fffffffffffffffffffffffcn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    g: {
      x: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
      y: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
    },
  },
  'P-384': {
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    a: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000fffffffcn,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    g: {
      x: 0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n,
      y: 0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn,
    },
  },
};

const mod = (a: bigint, m: bigint): bigint => ((a % m) + m) % m;

function inverse(a: bigint, m: bigint): bigint {
  let [r0, r1] = [mod(a, m), m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return mod(s0, m);
}

function add(c: Curve, P: Point, Q: Point): Point {
  if (P === null) return Q;
  if (Q === null) return P;
  let l: bigint;
  if (P.x === Q.x) {
    if (mod(P.y + Q.y, c.p) === 0n) return null;
    l = mod((3n * P.x * P.x + c.a) * inverse(2n * P.y, c.p), c.p);
  } else {
    l = mod((Q.y - P.y) * inverse(Q.x - P.x, c.p), c.p);
  }
  const x = mod(l * l - P.x - Q.x, c.p);
  return { x, y: mod(l * (P.x - x) - P.y, c.p) };
}

function multiply(c: Curve, k: bigint, P: Point): Point {
  let result: Point = null;
  let addend = P;
  while (k > 0n) {
    if (k & 1n) result = add(c, result, addend);
    addend = add(c, addend, addend);
    k >>= 1n;
  }
  return result;
}

const toBigInt = (b: Uint8Array): bigint =>
  b.length === 0 ? 0n : BigInt(`0x${Buffer.from(b).toString('hex')}`);

function verifyEcdsa(curveName: string, key: KeyObject, digest: Buffer, signature: Buffer): boolean {
  const c = CURVES[curveName];
  if (!c) return false;
  const jwk = key.export({ format: 'jwk' });
  if (!jwk.x || !jwk.y) return false;
  const Q = { x: toBigInt(Buffer.from(jwk.x, 'base64url')), y: toBigInt(Buffer.from(jwk.y, 'base64url')) };
  let r: bigint, s: bigint;
  try {
    const seq = ASN1Obj.parseBuffer(Buffer.from(signature));
    if (seq.subs.length !== 2 || seq.toDER().length !== signature.length) return false;
    r = seq.subs[0]!.toInteger();
    s = seq.subs[1]!.toInteger();
  } catch {
    return false;
  }
  if (r <= 0n || r >= c.n || s <= 0n || s >= c.n) return false;
  // e = leftmost bits of the digest, as many as the order has (FIPS 186-4 §6.4).
  const nBits = c.n.toString(2).length;
  let e = toBigInt(digest);
  if (digest.length * 8 > nBits) e >>= BigInt(digest.length * 8 - nBits);
  const w = inverse(s, c.n);
  const X = add(c, multiply(c, mod(e * w, c.n), c.g), multiply(c, mod(r * w, c.n), Q));
  return X !== null && mod(X.x, c.n) === r;
}

const DIGEST_INFO_PREFIX: Record<string, string> = {
  sha256: '3031300d060960864801650304020105000420',
  sha384: '3041300d060960864801650304020205000430',
  sha512: '3051300d060960864801650304020305000440',
};

function verifyRsaPkcs1(key: KeyObject, algorithm: string, digest: Buffer, signature: Buffer): boolean {
  const prefix = DIGEST_INFO_PREFIX[algorithm];
  if (!prefix) return false;
  try {
    const recovered = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, signature);
    return recovered.equals(Buffer.concat([Buffer.from(prefix, 'hex'), digest]));
  } catch {
    return false;
  }
}

/** Verifies `signature` over a message known only by its `digest` (`algorithm` = sha256/sha384/sha512). */
export function verifyPrehashed(
  key: KeyObject,
  algorithm: string,
  digest: Buffer,
  signature: Buffer,
): boolean {
  const expectedLength = createHash(algorithm).digest().length;
  if (digest.length !== expectedLength) return false;
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const name = curve === 'prime256v1' ? 'P-256' : curve === 'secp384r1' ? 'P-384' : curve;
    return verifyEcdsa(name ?? '', key, digest, signature);
  }
  if (key.asymmetricKeyType === 'rsa') return verifyRsaPkcs1(key, algorithm, digest, signature);
  return false; // Ed25519 and RSA-PSS sign the message itself: impossible from a digest alone.
}
