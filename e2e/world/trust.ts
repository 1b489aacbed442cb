// The trust material describing exactly this world's Sigstore services: `trusted_root.json` (what
// verifiers trust) and `signing_config.json` v0.2 (where signers go). Emitted from the protobuf-specs
// types rather than by `cosign trusted-root create`, so it needs no Go tool and every field is ours.
//
// Rules a private trusted root must follow (shared/notes/sigstore-formats.md §3.6):
// - a CA's certChain holds the intermediates and the root, leaf-most first (bundle intermediates are
//   ignored by verifiers);
// - every validFor.start lies before the first signature, or chains fail to verify at signing time;
// - a Rekor v2 log is found by its checkpoint key ID, and its baseUrl contains the checkpoint origin;
// - no `ctlogs`: this tier runs Fulcio without a CT log (see fulcio.ts for what verifiers must do);
//   the full tier adds its CT log and Rekor v1 with trust-full.ts `withFullTier`.
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  HashAlgorithm,
  PublicKeyDetails,
  ServiceSelector,
  SigningConfig,
  TrustedRoot,
  type CertificateAuthority,
} from '@sigstore/protobuf-specs';

export const trustedRootMediaType = 'application/vnd.dev.sigstore.trustedroot+json;version=0.1';
export const signingConfigMediaType = 'application/vnd.dev.sigstore.signingconfig.v0.2+json';
const operator = 'sigward-e2e';

export interface TrustInputs {
  fulcio: { url: string; chainPem: readonly string[] };
  rekor: { url: string; publicKeyDer: Buffer; logId: Buffer };
  tsa: { url: string; timestampUrl: string; chainPem: readonly string[] };
  /** Start of every validity window: before anything was signed. */
  validFrom: Date;
}

export interface TrustMaterial {
  trustedRootPath: string;
  signingConfigPath: string;
  /** The proto-JSON documents as written. */
  trustedRootJson: Record<string, unknown>;
  signingConfigJson: Record<string, unknown>;
}

function certChain(pems: readonly string[]): CertificateAuthority['certChain'] {
  return { certificates: pems.map((pem) => ({ rawBytes: new X509Certificate(pem).raw })) };
}

export function trustedRootFor(inputs: TrustInputs): TrustedRoot {
  const start = inputs.validFrom;
  return {
    mediaType: trustedRootMediaType,
    certificateAuthorities: [
      {
        subject: { organization: 'sigward-e2e', commonName: 'sigward e2e fulcio' },
        uri: inputs.fulcio.url,
        certChain: certChain(inputs.fulcio.chainPem),
        validFor: { start },
        operator,
      },
    ],
    tlogs: [
      {
        baseUrl: inputs.rekor.url,
        hashAlgorithm: HashAlgorithm.SHA2_256,
        publicKey: {
          rawBytes: inputs.rekor.publicKeyDer,
          keyDetails: PublicKeyDetails.PKIX_ED25519,
          validFor: { start },
        },
        // For Rekor v2 both are the signed-note key ID; entries carry it as their log ID.
        logId: { keyId: inputs.rekor.logId },
        checkpointKeyId: { keyId: inputs.rekor.logId },
        operator,
      },
    ],
    ctlogs: [],
    timestampAuthorities: [
      {
        subject: { organization: 'sigward-e2e', commonName: 'sigward e2e tsa' },
        uri: inputs.tsa.url,
        certChain: certChain(inputs.tsa.chainPem),
        validFor: { start },
        operator,
      },
    ],
  };
}

export function signingConfigFor(inputs: TrustInputs): SigningConfig {
  const validFor = { start: inputs.validFrom };
  return {
    mediaType: signingConfigMediaType,
    caUrls: [{ url: inputs.fulcio.url, majorApiVersion: 1, validFor, operator }],
    // Signers here always bring an identity token; no interactive OIDC provider.
    oidcUrls: [],
    rekorTlogUrls: [{ url: inputs.rekor.url, majorApiVersion: 2, validFor, operator }],
    rekorTlogConfig: { selector: ServiceSelector.ANY, count: 0 },
    tsaUrls: [{ url: inputs.tsa.timestampUrl, majorApiVersion: 1, validFor, operator }],
    tsaConfig: { selector: ServiceSelector.ANY, count: 0 },
  };
}

/** Writes trusted_root.json and signing_config.json into `dir`. */
export function writeTrustMaterial(dir: string, inputs: TrustInputs): TrustMaterial {
  const trustedRootJson = TrustedRoot.toJSON(trustedRootFor(inputs)) as Record<string, unknown>;
  const signingConfigJson = SigningConfig.toJSON(signingConfigFor(inputs)) as Record<string, unknown>;
  const trustedRootPath = path.join(dir, 'trusted_root.json');
  const signingConfigPath = path.join(dir, 'signing_config.json');
  writeFileSync(trustedRootPath, `${JSON.stringify(trustedRootJson, null, 2)}\n`);
  writeFileSync(signingConfigPath, `${JSON.stringify(signingConfigJson, null, 2)}\n`);
  return { trustedRootPath, signingConfigPath, trustedRootJson, signingConfigJson };
}
