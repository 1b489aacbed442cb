// The Signed Certificate Timestamps that Fulcio embeds in a certificate, checked against the CT logs
// of the trusted root right after issuance (as cosign does before it signs): an SCT from an unknown
// log, or one whose signature fails, stops the signing. A certificate without SCTs (a private Fulcio
// without a CT log) is reported as such; the verifier decides whether it accepts that.
// RFC 6962 §3.2: the SCT signs the precertificate, i.e. the TBS without the SCT extension, preceded by
// the SHA-256 of the issuer's public key.
import {
  ByteStream,
  EXTENSION_OID_SCT,
  X509Certificate,
  X509SCTExtension,
  crypto as core,
} from '@sigstore/core';
import { SignerError, SignerErrorCode } from './errors.ts';

/** A CT log as the trusted root lists it. */
export interface CtLog {
  readonly logId: Uint8Array;
  /** DER SubjectPublicKeyInfo. */
  readonly publicKey: Uint8Array;
  readonly validFrom?: Date;
  readonly validUntil?: Date;
}

export type SctResult = { readonly kind: 'none' } | { readonly kind: 'verified'; readonly count: number };

function sctError(message: string): SignerError {
  return new SignerError(SignerErrorCode.sct, message);
}

/** Checks every embedded SCT of `leafPem` (issued by `issuerPem`) against `ctlogs`. */
export function verifyEmbeddedScts(leafPem: string, issuerPem: string, ctlogs: readonly CtLog[]): SctResult {
  const leaf = X509Certificate.parse(leafPem);
  if (leaf.extSCT === undefined) return { kind: 'none' };
  const issuer = X509Certificate.parse(issuerPem);
  const precert = leaf.clone();
  const index = precert.extensions.findIndex((ext) => ext.subs[0]?.toOID() === EXTENSION_OID_SCT);
  const extension = index === -1 ? undefined : precert.extensions[index];
  if (extension === undefined) return { kind: 'none' };
  const scts = new X509SCTExtension(extension).signedCertificateTimestamps;
  if (scts.length === 0) return { kind: 'none' };
  precert.extensions.splice(index, 1);
  const tbs = precert.tbsCertificate.toDER();
  const signed = new ByteStream();
  signed.appendView(core.digest('sha256', issuer.publicKey));
  signed.appendUint24(tbs.length);
  signed.appendView(tbs);
  for (const sct of scts) {
    const when = sct.datetime;
    const logs = ctlogs.filter(
      (log) =>
        Buffer.from(log.logId).equals(sct.logID) &&
        (log.validFrom === undefined || log.validFrom <= when) &&
        (log.validUntil === undefined || when <= log.validUntil),
    );
    if (logs.length === 0) {
      throw sctError(
        `the certificate's SCT is from CT log ${sct.logID.toString('hex')}, which the trusted root does not list`,
      );
    }
    const ok = logs.some((log) =>
      sct.verify(signed.buffer, core.createPublicKey(Buffer.from(log.publicKey))),
    );
    if (!ok) throw sctError(`the certificate's SCT from CT log ${sct.logID.toString('hex')} does not verify`);
  }
  return { kind: 'verified', count: scts.length };
}
