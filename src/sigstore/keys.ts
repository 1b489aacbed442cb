// A trusted public key as configured (PEM, SPKI or PKCS#1): parsed once, with a reason when it is not a key.
import { createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { SigstoreError, SigstoreErrorCode } from './errors.ts';

export function publicKeyFromPem(pem: string | Uint8Array): KeyObject {
  const text = typeof pem === 'string' ? pem : Buffer.from(pem).toString('utf8');
  // createPublicKey would quietly derive the public half of a private key: refuse it instead, a
  // private key must never sit where trust configuration lives.
  if (text.includes('PRIVATE KEY')) {
    throw new SigstoreError(
      SigstoreErrorCode.keyMalformed,
      'a private key was given where a public key is expected',
    );
  }
  try {
    const key = createPublicKey(text);
    if (key.type !== 'public') throw new Error('not a public key');
    return key;
  } catch (cause) {
    throw new SigstoreError(
      SigstoreErrorCode.keyMalformed,
      `not a PEM public key: ${cause instanceof Error ? cause.message : String(cause)}`,
      {
        cause,
      },
    );
  }
}
