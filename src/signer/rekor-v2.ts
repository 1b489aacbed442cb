// A Rekor v2 (rekor-tiles) witness that logs DSSE signatures the way cosign v3 does. rekor-tiles v2.3.0
// only accepts hashedrekord entries, and @sigstore/sign 5.1.0 sends a `dsse` request for a DSSE
// bundle, which it refuses ("invalid type, must be hashedrekord"). cosign (through sigstore-go) logs a
// DSSE signature as a hashedrekord 0.0.2 over the SHA-256 of the DSSE pre-authentication encoding, the
// bytes that were signed; @sigstore/verify 4.1 accepts that (compareSignedDigest on the PAE). Message
// signatures are logged as a hashedrekord over their message digest, as the library does.
import { dsse, pem } from '@sigstore/core';
import type { TransparencyLogEntry } from '@sigstore/bundle';
import { TransparencyLogEntry as TransparencyLogEntryJson } from '@sigstore/protobuf-specs';
import type { SignatureBundle, VerificationMaterial, Witness } from '@sigstore/sign';
import { createHash } from 'node:crypto';
import { SignerError, SignerErrorCode } from './errors.ts';
import { postJson } from './service-http.ts';

export interface RekorV2WitnessOptions {
  readonly rekorUrl: string;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** What the log entry records: the digest of the signed bytes and the signature. */
function signedDigestAndSignature(content: SignatureBundle): { digest: Buffer; signature: Buffer } {
  if (content.$case === 'dsseEnvelope') {
    const envelope = content.dsseEnvelope;
    const signature = envelope.signatures[0]?.sig;
    if (signature === undefined)
      throw new SignerError(SignerErrorCode.rekor, 'the DSSE envelope has no signature');
    const pae = dsse.preAuthEncoding(envelope.payloadType, envelope.payload);
    return { digest: createHash('sha256').update(pae).digest(), signature };
  }
  const { messageDigest, signature } = content.messageSignature;
  if (messageDigest === undefined)
    throw new SignerError(SignerErrorCode.rekor, 'the message signature has no digest');
  return { digest: messageDigest.digest, signature };
}

export class RekorV2Witness implements Witness {
  readonly #options: RekorV2WitnessOptions;

  constructor(options: RekorV2WitnessOptions) {
    this.#options = options;
  }

  async testify(content: SignatureBundle, certificatePem: string): Promise<VerificationMaterial> {
    const { digest, signature } = signedDigestAndSignature(content);
    const answer = await postJson(
      {
        service: 'Rekor v2',
        code: SignerErrorCode.rekor,
        url: `${this.#options.rekorUrl}/api/v2/log/entries`,
        body: {
          hashedRekordRequestV002: {
            digest: digest.toString('base64'),
            signature: {
              content: signature.toString('base64'),
              verifier: {
                x509Certificate: { rawBytes: pem.toDER(certificatePem).toString('base64') },
                keyDetails: 'PKIX_ECDSA_P256_SHA_256',
              },
            },
          },
        },
      },
      {
        ...(this.#options.timeoutMs === undefined ? {} : { timeoutMs: this.#options.timeoutMs }),
        ...(this.#options.signal === undefined ? {} : { signal: this.#options.signal }),
      },
    );
    let entry: TransparencyLogEntry;
    try {
      entry = TransparencyLogEntryJson.fromJSON(answer) as TransparencyLogEntry;
    } catch (cause) {
      throw new SignerError(
        SignerErrorCode.rekor,
        'Rekor v2 answered with something that is not a log entry',
        { cause },
      );
    }
    if (entry.logId === undefined || entry.kindVersion === undefined || entry.inclusionProof === undefined) {
      throw new SignerError(
        SignerErrorCode.rekor,
        'Rekor v2 answered with an incomplete log entry (no log ID, kind or inclusion proof)',
      );
    }
    return { tlogEntries: [entry] };
  }
}
