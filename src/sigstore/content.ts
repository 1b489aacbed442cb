// What a bundle must have signed, checked by sigward because the library never does: the digest of
// a message signature, the simple-signing payload of a legacy image signature (payload.ts), or the
// in-toto statement inside a DSSE envelope (statement.ts).
import { createHash } from 'node:crypto';
import { HashAlgorithm } from '@sigstore/protobuf-specs';
import type { RepositoryName } from '../oci/reference.ts';
import type { Bundle } from './bundle.ts';
import { SigstoreError, SigstoreErrorCode } from './errors.ts';
import { COSIGN_SIGN_PREDICATE_TYPE } from './layout.ts';
import { checkSimpleSigning, parseSimpleSigning } from './payload.ts';
import type { SimpleSigningPayload } from './payload.ts';
import { checkStatement, parseStatement, splitDigest } from './statement.ts';
import type { InTotoStatement } from './statement.ts';

/** What the signature must be about. */
export type SignedContent =
  | {
      /** A blob: message signatures must carry its digest; DSSE statements must name it as subject. */
      readonly kind: 'artifact';
      /** `sha256:<hex>` of the artifact. */
      readonly digest: string;
      /** The artifact bytes, when known; otherwise message signatures are checked over the digest. */
      readonly bytes?: Uint8Array;
      /** Required DSSE predicate type; undefined accepts any. */
      readonly predicateType?: string;
    }
  | {
      /** A container image: legacy simple-signing payload, or an in-toto statement in DSSE. */
      readonly kind: 'image';
      /** The admitted manifest digest `sha256:<hex>`. */
      readonly digest: string;
      /** The admitted repository; checked against docker-reference (payload.ts); omit to ignore. */
      readonly repository?: string | RepositoryName;
      /** The simple-signing payload blob (the signed bytes) of a message-signature bundle. */
      readonly payload?: Uint8Array;
      /** Required DSSE predicate type, default the cosign image-signature type. */
      readonly predicateType?: string;
    };

const HASH_NAMES: Partial<Record<HashAlgorithm, string>> = {
  [HashAlgorithm.SHA2_256]: 'sha256',
  [HashAlgorithm.SHA2_384]: 'sha384',
  [HashAlgorithm.SHA2_512]: 'sha512',
};

function mismatch(message: string): SigstoreError {
  return new SigstoreError(SigstoreErrorCode.contentMismatch, message);
}

export interface PreparedContent {
  readonly artifact?: Buffer;
  readonly prehashed?: { algorithm: string; digest: Buffer };
  /** Runs after the crypto checks so a forged bundle is reported as forged, not as "other content". */
  readonly check: () => { statement?: InTotoStatement; simpleSigning?: SimpleSigningPayload };
}

export function prepareContent(bundle: Bundle, content: SignedContent): PreparedContent {
  if (bundle.content.$case === 'dsseEnvelope') {
    const envelope = bundle.content.dsseEnvelope;
    const predicateType =
      content.kind === 'image'
        ? (content.predicateType ?? COSIGN_SIGN_PREDICATE_TYPE)
        : content.predicateType;
    const digests = [content.digest.toLowerCase()];
    if (content.kind === 'artifact' && content.bytes) {
      // The bytes are known: they must be what the digest says, and a subject may name them by any
      // of the common algorithms (npm provenance uses sha512).
      const [alg, hex] = splitDigest(content.digest);
      if (createHash(alg).update(content.bytes).digest('hex') !== hex) {
        throw mismatch(`the artifact bytes do not match the given digest ${content.digest}`);
      }
      for (const other of ['sha256', 'sha384', 'sha512']) {
        if (other !== alg) digests.push(`${other}:${createHash(other).update(content.bytes).digest('hex')}`);
      }
    }
    return {
      check: () => {
        const statement = parseStatement(envelope.payloadType, envelope.payload);
        checkStatement(statement, { digests, predicateType });
        return { statement };
      },
    };
  }

  const { messageDigest } = bundle.content.messageSignature;
  const algorithm = messageDigest ? HASH_NAMES[messageDigest.algorithm] : undefined;
  if (!messageDigest || !algorithm) {
    throw new SigstoreError(
      SigstoreErrorCode.unsupported,
      'the message signature has no supported digest algorithm',
    );
  }
  const found = `${algorithm}:${Buffer.from(messageDigest.digest).toString('hex')}`;

  if (content.kind === 'artifact') {
    const [wantAlg, wantHex] = splitDigest(content.digest);
    if (content.bytes) {
      const actual = createHash(wantAlg).update(content.bytes).digest('hex');
      if (actual !== wantHex)
        throw mismatch(`the artifact bytes do not match the given digest ${content.digest}`);
    }
    if (found !== `${wantAlg}:${wantHex}`) {
      throw mismatch(`the bundle signs another artifact: expected ${wantAlg}:${wantHex}, found ${found}`);
    }
    if (content.bytes) return { artifact: Buffer.from(content.bytes), check: () => ({}) };
    return { prehashed: { algorithm, digest: Buffer.from(wantHex, 'hex') }, check: () => ({}) };
  }

  if (!content.payload) {
    throw mismatch('a message-signature bundle for an image needs its simple-signing payload');
  }
  const payload = content.payload;
  const payloadDigest = `${algorithm}:${createHash(algorithm).update(payload).digest('hex')}`;
  if (payloadDigest !== found) {
    throw mismatch(
      `the signature is over other bytes than the payload: expected ${payloadDigest}, found ${found}`,
    );
  }
  return {
    artifact: Buffer.from(payload),
    check: () => {
      const simpleSigning = parseSimpleSigning(payload);
      checkSimpleSigning(simpleSigning, { digest: content.digest, repository: content.repository });
      return { simpleSigning };
    },
  };
}
