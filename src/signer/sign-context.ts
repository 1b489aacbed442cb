// What every signing flow shares: the context (registry client, identity, services, trust), the
// outcome it reports, and the small steps each flow takes the same way (the keyless signer, progress
// lines for the witnesses, the signing time, the self-check).
import { RFC3161Timestamp } from '@sigstore/core';
import type { Bundle } from '@sigstore/bundle';
import type { Witness } from '@sigstore/sign';
import type { ImageReference, RegistryClient } from '../oci/index.ts';
import type { TrustRootSnapshot } from '../sigstore/trusted-root.ts';
import type { SignerTrust } from '../sigstore/verify.ts';
import { SigwardError, describeError } from '../errors.ts';
import { SignerError, SignerErrorCode } from './errors.ts';
import type { IdentityTokenProvider } from './identity-token.ts';
import { KeylessSigner, type IssuedCertificate } from './keyless-signer.ts';
import type { CtLog } from './sct.ts';
import type { Services } from './services.ts';
import { witnessesFor } from './witnesses.ts';

export type SignatureFormat = 'bundle' | 'legacy';

export interface SignContext {
  readonly client: RegistryClient;
  readonly identity: IdentityTokenProvider;
  /** The audience Fulcio expects in tokens. Default `sigstore`. */
  readonly audience?: string;
  readonly services: Services;
  /** Trust material for the SCT check and the self-check. */
  readonly trust: TrustRootSnapshot;
  /** Verify what was pushed (default true). */
  readonly selfCheck?: boolean;
  readonly progress?: (line: string) => void;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface SignRequest {
  readonly reference: ImageReference;
  /** Default `bundle` (cosign v3). */
  readonly format?: SignatureFormat;
  /** An index: sign its platform manifests too (cosign --recursive). */
  readonly recursive?: boolean;
}

export interface AttestRequest {
  readonly reference: ImageReference;
  readonly predicateType: string;
  readonly predicate: unknown;
}

export interface SignOutcome {
  /** `registry/repository@sha256:…` */
  readonly image: string;
  readonly digest: string;
  readonly format: SignatureFormat;
  /** The certificate's subject (SAN) and issuer, as Fulcio certified them. */
  readonly identity: { readonly subject?: string; readonly issuer?: string };
  readonly logIndex?: string;
  /** Where the signature went: the referrer manifest digest, or the `.sig` tag. */
  readonly location: string;
  /** The bundle as pushed (bundle format) or as made (legacy), proto-JSON. */
  readonly bundleJson: string;
  readonly selfChecked: boolean;
  /** With `recursive` on an index: the platform manifests' signatures. */
  readonly children?: readonly SignOutcome[];
}

export function ctlogsOf(trust: TrustRootSnapshot): CtLog[] {
  return trust.trustedRoot.ctlogs.flatMap((log) => {
    const key = log.publicKey?.rawBytes;
    const id = log.logId?.keyId;
    if (key === undefined || id === undefined) return [];
    const validFor = log.publicKey?.validFor;
    return [
      {
        logId: id,
        publicKey: key,
        ...(validFor?.start === undefined ? {} : { validFrom: validFor.start }),
        ...(validFor?.end === undefined ? {} : { validUntil: validFor.end }),
      },
    ];
  });
}

export function signalOption(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal === undefined ? {} : { signal };
}

export function retryOptions(ctx: SignContext) {
  return {
    ...(ctx.signal === undefined ? {} : { signal: ctx.signal }),
    onRetry: (error: SigwardError, attempt: number) =>
      ctx.progress?.(`registry: ${error.message}; retrying (attempt ${attempt + 1})`),
  };
}

export function signerFor(ctx: SignContext): KeylessSigner {
  return new KeylessSigner({
    fulcioUrl: ctx.services.fulcio.url,
    identity: ctx.identity,
    ...(ctx.audience === undefined ? {} : { audience: ctx.audience }),
    ctlogs: ctlogsOf(ctx.trust),
    ...(ctx.progress === undefined ? {} : { progress: ctx.progress }),
    ...(ctx.timeoutMs === undefined ? {} : { timeoutMs: ctx.timeoutMs }),
    ...(ctx.signal === undefined ? {} : { signal: ctx.signal }),
  });
}

export interface WitnessedBundle<B extends Bundle> {
  readonly bundle: B;
  readonly issued: IssuedCertificate;
  readonly logIndex: string | undefined;
}

/**
 * The signing step both formats take: `sign` makes the bundle (the format's builder, with the
 * context's witnesses: Rekor, TSA), then the certificate that signed it is taken from the signer and
 * the witnesses are reported.
 */
export async function signWitnessed<B extends Bundle>(
  ctx: SignContext,
  signer: KeylessSigner,
  sign: (witnesses: Witness[]) => Promise<B>,
): Promise<WitnessedBundle<B>> {
  const bundle = await sign(witnessesFor(ctx.services, witnessOptions(ctx)));
  const issued = await signer.certificate();
  const logIndex = reportWitnesses(ctx, bundle);
  return { bundle, issued, logIndex };
}

export function reportWitnesses(ctx: SignContext, bundle: Bundle): string | undefined {
  const entry = bundle.verificationMaterial.tlogEntries[0];
  if (entry !== undefined) ctx.progress?.(`tlog entry created with index: ${entry.logIndex}`);
  const stamps = bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps.length ?? 0;
  if (stamps > 0) ctx.progress?.(`Timestamp fetched with time: ${signingTime(bundle).toISOString()}`);
  return entry?.logIndex;
}

/** When it was signed, as witnessed: the TSA time, else Rekor v1's integrated time, else now. */
export function signingTime(bundle: Bundle): Date {
  const stamp = bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps[0];
  if (stamp !== undefined) return RFC3161Timestamp.parse(Buffer.from(stamp.signedTimestamp)).signingTime;
  const integrated = Number(bundle.verificationMaterial.tlogEntries[0]?.integratedTime ?? 0);
  return integrated > 0 ? new Date(integrated * 1000) : new Date();
}

export async function selfCheck(ctx: SignContext, step: () => Promise<void>): Promise<boolean> {
  if (ctx.selfCheck === false) return false;
  try {
    await step();
  } catch (error) {
    const code = error instanceof SigwardError ? ` [${error.code}]` : '';
    throw new SignerError(
      SignerErrorCode.selfCheck,
      `the signature was pushed but does not verify with sigward's verifier${code}: ${describeError(error)}`,
      { cause: error },
    );
  }
  ctx.progress?.('Verified the pushed signature with the trusted root');
  return true;
}

export function keylessTrust(issued: IssuedCertificate, requireTlog = true): SignerTrust {
  return { kind: 'keyless', requireTlog, requireSct: issued.sct.kind !== 'none' };
}

export function identityOf(issued: IssuedCertificate): SignOutcome['identity'] {
  return { subject: issued.claims.subject, issuer: issued.claims.issuer };
}

export function witnessOptions(ctx: SignContext) {
  return {
    ...(ctx.timeoutMs === undefined ? {} : { timeoutMs: ctx.timeoutMs }),
    ...(ctx.signal === undefined ? {} : { signal: ctx.signal }),
  };
}
