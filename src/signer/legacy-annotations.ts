// A message-signature bundle over a simple-signing payload → the annotations of a legacy cosign
// `.sig` layer (shared/notes/sigstore-formats.md §1.4–1.6; keys from sigstore/layout.ts).
// - the Rekor annotation needs a SET: only a Rekor v1 entry has one. A Rekor v2 entry has an inclusion
//   proof and no signed time, which this layout cannot carry, so a legacy signature made with Rekor v2
//   carries only the TSA timestamp (verify it with cosign's --insecure-ignore-tlog). The entry is still
//   written to the log, for monitors.
// - the chain annotation holds Fulcio's intermediates and root as Fulcio returned them.
import type { Bundle } from '@sigstore/bundle';
import { ANNOTATION } from '../sigstore/layout.ts';
import { SignerError, SignerErrorCode } from './errors.ts';

export interface LegacyAnnotationsInput {
  readonly bundle: Bundle;
  readonly leafPem: string;
  readonly chainPem: readonly string[];
}

export function legacyAnnotations(input: LegacyAnnotationsInput): Record<string, string> {
  const { bundle } = input;
  if (bundle.content.$case !== 'messageSignature') {
    throw new SignerError(SignerErrorCode.input, 'a legacy signature needs a message signature');
  }
  const annotations: Record<string, string> = {
    [ANNOTATION.signature]: Buffer.from(bundle.content.messageSignature.signature).toString('base64'),
    [ANNOTATION.certificate]: input.leafPem,
    [ANNOTATION.chain]: input.chainPem.join(''),
  };
  const entry = bundle.verificationMaterial.tlogEntries.find((e) => e.inclusionPromise !== undefined);
  if (entry?.inclusionPromise !== undefined && entry.logId !== undefined) {
    annotations[ANNOTATION.rekorBundle] = JSON.stringify({
      SignedEntryTimestamp: Buffer.from(entry.inclusionPromise.signedEntryTimestamp).toString('base64'),
      Payload: {
        body: Buffer.from(entry.canonicalizedBody).toString('base64'),
        integratedTime: Number(entry.integratedTime),
        logIndex: Number(entry.logIndex),
        logID: Buffer.from(entry.logId.keyId).toString('hex'),
      },
    });
  }
  const timestamp = bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps[0];
  if (timestamp !== undefined) {
    annotations[ANNOTATION.rfc3161Timestamp] = JSON.stringify({
      SignedRFC3161Timestamp: Buffer.from(timestamp.signedTimestamp).toString('base64'),
    });
  }
  return annotations;
}
