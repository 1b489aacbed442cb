// The keyless signer: an ephemeral P-256 key that lives in this process's memory only, a short-lived
// Fulcio certificate for it bound to the identity token, and signatures with that key. Unlike
// @sigstore/sign's FulcioSigner it keeps the whole chain Fulcio returns (leaf, intermediates, root),
// which the legacy `dev.sigstore.cosign/chain` annotation carries.
// Fulcio API v2 (`POST /api/v2/signingCert`); the proof of possession signs the token's email when it
// has one, otherwise its subject (for a Kubernetes service account `system:serviceaccount:<ns>:<sa>`).
import {
  X509Certificate,
  createPublicKey,
  generateKeyPairSync,
  sign as signData,
  type KeyObject,
} from 'node:crypto';
import type { Signature, Signer } from '@sigstore/sign';
import { certificateIdentity } from '../sigstore/identity.ts';
import { SignerError, SignerErrorCode } from './errors.ts';
import type { IdentityTokenProvider } from './identity-token.ts';
import { postJson } from './service-http.ts';
import { verifyEmbeddedScts, type CtLog, type SctResult } from './sct.ts';
import { checkClaims, proofSubject, type TokenClaims } from './token-claims.ts';

export interface IssuedCertificate {
  /** PEM of the leaf certificate. */
  readonly leafPem: string;
  /** PEM of the intermediates and root, leaf-most first, as Fulcio returned them. */
  readonly chainPem: readonly string[];
  /** The token's claims (issuer and subject), for messages. */
  readonly claims: TokenClaims;
  readonly sct: SctResult;
}

export interface KeylessSignerOptions {
  readonly fulcioUrl: string;
  readonly identity: IdentityTokenProvider;
  /** The audience Fulcio expects in the token. Default `sigstore`. */
  readonly audience?: string;
  /** The trusted root's CT logs, to check the certificate's SCT. */
  readonly ctlogs: readonly CtLog[];
  readonly progress?: (line: string) => void;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

const pemCertificate = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function chainOf(answer: unknown): string[] {
  const record = answer as Record<string, Record<string, Record<string, unknown>> | undefined>;
  const signed = record['signedCertificateEmbeddedSct'] ?? record['signedCertificateDetachedSct'];
  const certificates = signed?.['chain']?.['certificates'];
  if (!Array.isArray(certificates) || certificates.length === 0) {
    throw new SignerError(SignerErrorCode.fulcio, 'Fulcio answered without a certificate chain');
  }
  const pems = certificates.flatMap((c) => (typeof c === 'string' ? (c.match(pemCertificate) ?? []) : []));
  if (pems.length !== certificates.length) {
    throw new SignerError(SignerErrorCode.fulcio, 'Fulcio answered with a malformed certificate chain');
  }
  return pems.map((p) => `${p.trim()}\n`);
}

export class KeylessSigner implements Signer {
  readonly #options: KeylessSignerOptions;
  readonly #privateKey: KeyObject;
  readonly #publicKeyPem: string;
  #issued: Promise<IssuedCertificate> | undefined;

  constructor(options: KeylessSignerOptions) {
    this.#options = options;
    options.progress?.('Generating ephemeral keys...');
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    this.#privateKey = pair.privateKey;
    this.#publicKeyPem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  /** The certificate for the ephemeral key, fetched once. */
  certificate(): Promise<IssuedCertificate> {
    this.#issued ??= this.#fetchCertificate();
    return this.#issued;
  }

  async sign(data: Buffer): Promise<Signature> {
    const issued = await this.certificate();
    const signature = signData('sha256', data, this.#privateKey);
    return { signature, key: { $case: 'x509Certificate', certificate: issued.leafPem } };
  }

  async #fetchCertificate(): Promise<IssuedCertificate> {
    const { identity, progress } = this.#options;
    const token = await identity.getToken(this.#options.signal);
    const claims = checkClaims(token, {
      audience: this.#options.audience ?? 'sigstore',
      source: identity.source,
    });
    const proof = signData('sha256', Buffer.from(proofSubject(claims)), this.#privateKey);
    progress?.('Retrieving signed certificate...');
    const answer = await postJson(
      {
        service: 'Fulcio',
        code: SignerErrorCode.fulcio,
        url: `${this.#options.fulcioUrl}/api/v2/signingCert`,
        body: {
          credentials: { oidcIdentityToken: token },
          publicKeyRequest: {
            publicKey: { algorithm: 'ECDSA', content: this.#publicKeyPem },
            proofOfPossession: proof.toString('base64'),
          },
        },
      },
      {
        secrets: [token],
        ...(this.#options.timeoutMs === undefined ? {} : { timeoutMs: this.#options.timeoutMs }),
        ...(this.#options.signal === undefined ? {} : { signal: this.#options.signal }),
      },
    );
    const [leafPem, ...chainPem] = chainOf(answer);
    if (leafPem === undefined) throw new SignerError(SignerErrorCode.fulcio, 'Fulcio returned no leaf');
    // The certificate must be for our key, or signatures would not verify against it.
    const certified = createPublicKey(leafPem).export({ type: 'spki', format: 'pem' }).toString();
    if (certified !== this.#publicKeyPem) {
      throw new SignerError(SignerErrorCode.fulcio, 'Fulcio returned a certificate for another key');
    }
    const certifiedLine = certifiedIdentity(leafPem);
    if (certifiedLine !== undefined) progress?.(certifiedLine);
    const issuerPem = chainPem[0];
    const sct =
      issuerPem === undefined
        ? ({ kind: 'none' } as const)
        : verifyEmbeddedScts(leafPem, issuerPem, this.#options.ctlogs);
    if (sct.kind === 'verified') progress?.('Successfully verified SCT...');
    else {
      progress?.(
        'The certificate carries no SCT (a Fulcio without a CT log): verifiers must accept that (cosign: --insecure-ignore-sct)',
      );
    }
    return { leafPem, chainPem, claims, sct };
  }
}

/**
 * The identity Fulcio certified, in the words a policy's `keyless.identities` uses: the token's `sub`
 * (printed by "Signing as …") is not always it (a Kubernetes service account's
 * `system:serviceaccount:NS:NAME` becomes `https://kubernetes.io/namespaces/NS/serviceaccounts/NAME`).
 * Only a progress line: a certificate it cannot read is left for the verifier to refuse.
 */
export function certifiedIdentity(leafPem: string): string | undefined {
  try {
    const { subject, issuer } = certificateIdentity(new X509Certificate(leafPem).raw);
    if (subject === undefined || issuer === undefined) return undefined;
    return `Certificate for subject ${JSON.stringify(subject)} from issuer ${JSON.stringify(issuer)} (what a policy's keyless identity names)`;
  } catch {
    return undefined;
  }
}
