// `sigward sign` and `sigward attest`, step by step: resolve the tag to a digest, make the ephemeral
// key and get its Fulcio certificate, sign, have the signature witnessed (Rekor, TSA), push it next
// to the image, and verify what was pushed with sigward's own verifier. Each step prints a line a
// person can follow; a failure before the push leaves the registry untouched.
import { RFC3161Timestamp } from '@sigstore/core';
import { bundleToJSON, type Bundle } from '@sigstore/bundle';
import { DSSEBundleBuilder, MessageSignatureBundleBuilder } from '@sigstore/sign';
import {
  digestOf,
  formatReference,
  isIndexType,
  referenceIn,
  repositoryString,
  withDigest,
  type Descriptor,
  type ImageReference,
  type RegistryClient,
} from '../oci/index.ts';
import { parseBundle } from '../sigstore/bundle.ts';
import { COSIGN_SIGN_PREDICATE_TYPE, IN_TOTO_PAYLOAD_TYPE, ANNOTATION } from '../sigstore/layout.ts';
import { legacySignatureToBundle } from '../sigstore/legacy.ts';
import type { TrustRootSnapshot } from '../sigstore/trusted-root.ts';
import { verifyBundle, type SignedContent, type SignerTrust } from '../sigstore/verify.ts';
import { SigwardError, describeError } from '../errors.ts';
import { attachBundle, attachLegacySignature, type SignedImage } from './attach.ts';
import { SignerError, SignerErrorCode } from './errors.ts';
import type { IdentityTokenProvider } from './identity-token.ts';
import { KeylessSigner, type IssuedCertificate } from './keyless-signer.ts';
import { legacyAnnotations } from './legacy-annotations.ts';
import { imageStatement, simpleSigningPayload } from './payloads.ts';
import { withRetries } from './retry.ts';
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

/**
 * The image to sign, by digest, in a repository we may push to. Push access is asked first (without
 * writing anything), so a registry that will refuse the signature does so before a certificate is
 * issued and before anything is written to the transparency log.
 */
async function resolveImage(ctx: SignContext, reference: ImageReference): Promise<SignedImage> {
  const descriptor: Descriptor = await withRetries(
    () => ctx.client.resolve(reference, ctx.signal),
    retryOptions(ctx),
  );
  const name = { registry: reference.registry, repository: reference.repository };
  await withRetries(() => ctx.client.checkPushAccess(name, ctx.signal), retryOptions(ctx));
  return { name, descriptor };
}

function signalOption(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal === undefined ? {} : { signal };
}

function retryOptions(ctx: SignContext) {
  return {
    ...(ctx.signal === undefined ? {} : { signal: ctx.signal }),
    onRetry: (error: SigwardError, attempt: number) =>
      ctx.progress?.(`registry: ${error.message}; retrying (attempt ${attempt + 1})`),
  };
}

function signerFor(ctx: SignContext): KeylessSigner {
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

function reportWitnesses(ctx: SignContext, bundle: Bundle): string | undefined {
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

async function selfCheck(ctx: SignContext, step: () => Promise<void>): Promise<boolean> {
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

function keylessTrust(issued: IssuedCertificate, requireTlog = true): SignerTrust {
  return { kind: 'keyless', requireTlog, requireSct: issued.sct.kind !== 'none' };
}

async function signStatement(
  ctx: SignContext,
  signer: KeylessSigner,
  image: SignedImage,
  reference: ImageReference,
  predicateType: string,
  predicate: unknown,
): Promise<SignOutcome> {
  const builder = new DSSEBundleBuilder({
    signer,
    witnesses: witnessesFor(ctx.services, witnessOptions(ctx)),
  });
  const bundle = await builder.create({
    data: imageStatement(image.descriptor.digest, predicateType, predicate),
    type: IN_TOTO_PAYLOAD_TYPE,
  });
  const issued = await signer.certificate();
  const logIndex = reportWitnesses(ctx, bundle);
  const bundleJson = JSON.stringify(bundleToJSON(bundle));
  const pinned = formatReference(withDigest({ ...image.name }, image.descriptor.digest));
  ctx.progress?.(`Pushing signature to: ${repositoryString(reference)}`);
  const created = signingTime(bundle);
  const attached = await withRetries(
    () =>
      attachBundle(ctx.client, image, Buffer.from(bundleJson, 'utf8'), {
        predicateType,
        created,
        ...(ctx.signal === undefined ? {} : { signal: ctx.signal }),
      }),
    retryOptions(ctx),
  );
  ctx.progress?.(
    `Attached ${attached.manifestDigest} as a referrer of ${image.descriptor.digest}${attached.viaFallbackTag ? ' (no referrers API: listed in the fallback tag index)' : ''}`,
  );
  const content: SignedContent = { kind: 'image', digest: image.descriptor.digest, predicateType };
  // Read back from the registry what a verifier will read, and verify that.
  const checked = await selfCheck(ctx, async () => {
    const stored = await ctx.client.getManifest(referenceIn(image.name, attached.manifestDigest), ctx.signal);
    const layer = stored.manifest.kind === 'manifest' ? stored.manifest.layers[0] : undefined;
    if (layer === undefined) throw new SignerError(SignerErrorCode.selfCheck, 'the referrer has no layer');
    const bytes = await ctx.client.getBlob(image.name, layer, signalOption(ctx.signal));
    verifyBundle({
      bundle: parseBundle(bytes),
      trust: ctx.trust.material,
      signer: keylessTrust(issued),
      content,
    });
  });
  return {
    image: pinned,
    digest: image.descriptor.digest,
    format: 'bundle',
    identity: identityOf(issued),
    ...(logIndex === undefined ? {} : { logIndex }),
    location: attached.manifestDigest,
    bundleJson,
    selfChecked: checked,
  };
}

function identityOf(issued: IssuedCertificate): SignOutcome['identity'] {
  return { subject: issued.claims.subject, issuer: issued.claims.issuer };
}

function witnessOptions(ctx: SignContext) {
  return {
    ...(ctx.timeoutMs === undefined ? {} : { timeoutMs: ctx.timeoutMs }),
    ...(ctx.signal === undefined ? {} : { signal: ctx.signal }),
  };
}

async function signLegacy(
  ctx: SignContext,
  signer: KeylessSigner,
  image: SignedImage,
  reference: ImageReference,
): Promise<SignOutcome> {
  const payload = simpleSigningPayload(repositoryString(image.name), image.descriptor.digest);
  const builder = new MessageSignatureBundleBuilder({
    signer,
    witnesses: witnessesFor(ctx.services, witnessOptions(ctx)),
  });
  const bundle = await builder.create({ data: payload });
  const issued = await signer.certificate();
  const logIndex = reportWitnesses(ctx, bundle);
  const annotations = legacyAnnotations({ bundle, leafPem: issued.leafPem, chainPem: issued.chainPem });
  const withSet = annotations['dev.sigstore.cosign/bundle'] !== undefined;
  if (!withSet && ctx.services.rekor !== undefined) {
    ctx.progress?.(
      'Rekor v2 entries carry no signed time: the legacy signature holds only the TSA timestamp (cosign verify needs --insecure-ignore-tlog)',
    );
  }
  ctx.progress?.(`Pushing signature to: ${repositoryString(reference)}`);
  const attached = await withRetries(
    () => attachLegacySignature(ctx.client, image, payload, annotations, ctx.signal),
    retryOptions(ctx),
  );
  ctx.progress?.(
    attached.added
      ? `Added the signature to ${attached.tag} (${attached.layers} signature${attached.layers === 1 ? '' : 's'})`
      : `${attached.tag} already holds this signature: nothing pushed`,
  );
  const checked = await selfCheck(ctx, async () => {
    // The layer as a verifier finds it: under the tag, with its annotations, its blob fetched.
    const stored = await ctx.client.getManifest(referenceIn(image.name, attached.tag), ctx.signal);
    const signature = annotations[ANNOTATION.signature];
    const layer =
      stored.manifest.kind === 'manifest'
        ? stored.manifest.layers.find(
            (l) => l.digest === digestOf(payload) && l.annotations?.[ANNOTATION.signature] === signature,
          )
        : undefined;
    if (layer === undefined) {
      throw new SignerError(SignerErrorCode.selfCheck, `${attached.tag} does not hold the new signature`);
    }
    const blob = await ctx.client.getBlob(image.name, layer, signalOption(ctx.signal));
    const { bundle: fromLayer } = legacySignatureToBundle({
      mediaType: layer.mediaType,
      annotations: layer.annotations ?? {},
      blob,
    });
    verifyBundle({
      bundle: fromLayer,
      trust: ctx.trust.material,
      signer: keylessTrust(issued, withSet),
      content: { kind: 'image', digest: image.descriptor.digest, repository: image.name, payload: blob },
    });
  });
  return {
    image: formatReference(withDigest({ ...image.name }, image.descriptor.digest)),
    digest: image.descriptor.digest,
    format: 'legacy',
    identity: identityOf(issued),
    ...(logIndex === undefined ? {} : { logIndex }),
    location: attached.tag,
    bundleJson: JSON.stringify(bundleToJSON(bundle)),
    selfChecked: checked,
  };
}

/** Signs one image (by tag or digest) and attaches the signature. */
async function signOne(
  ctx: SignContext,
  signer: KeylessSigner,
  image: SignedImage,
  reference: ImageReference,
  format: SignatureFormat,
): Promise<SignOutcome> {
  if (format === 'legacy') return signLegacy(ctx, signer, image, reference);
  return signStatement(ctx, signer, image, reference, COSIGN_SIGN_PREDICATE_TYPE, {});
}

/** The platform manifests of an index (each signed too with `recursive`, like cosign --recursive). */
async function childrenOf(ctx: SignContext, image: SignedImage): Promise<SignedImage[]> {
  if (!isIndexType(image.descriptor.mediaType)) return [];
  const index = await withRetries(
    () => ctx.client.getManifest(referenceIn(image.name, image.descriptor.digest), ctx.signal),
    retryOptions(ctx),
  );
  if (index.manifest.kind !== 'index') return [];
  return index.manifest.manifests.map((d) => ({
    name: image.name,
    descriptor: { mediaType: d.mediaType, digest: d.digest, size: d.size },
  }));
}

/**
 * Signs one image (by tag or digest) and attaches the signature; with `recursive`, an index's
 * platform manifests as well, each with its own signature and log entry, all under one certificate.
 */
export async function signImage(ctx: SignContext, request: SignRequest): Promise<SignOutcome> {
  const image = await resolveImage(ctx, request.reference);
  if (request.reference.digest === undefined) {
    ctx.progress?.(`Resolved ${formatReference(request.reference)} to ${image.descriptor.digest}`);
  }
  const format = request.format ?? 'bundle';
  const children = request.recursive === true ? await childrenOf(ctx, image) : [];
  const signer = signerFor(ctx);
  const outcome = await signOne(ctx, signer, image, request.reference, format);
  const signed: SignOutcome[] = [];
  for (const child of children) {
    ctx.progress?.(`Signing platform manifest ${child.descriptor.digest}`);
    signed.push(await signOne(ctx, signer, child, request.reference, format));
  }
  return children.length === 0 ? outcome : { ...outcome, children: signed };
}

/** Attests one image: an in-toto statement with the given predicate, as a DSSE bundle referrer. */
export async function attestImage(ctx: SignContext, request: AttestRequest): Promise<SignOutcome> {
  const image = await resolveImage(ctx, request.reference);
  if (request.reference.digest === undefined) {
    ctx.progress?.(`Resolved ${formatReference(request.reference)} to ${image.descriptor.digest}`);
  }
  return signStatement(
    ctx,
    signerFor(ctx),
    image,
    request.reference,
    request.predicateType,
    request.predicate,
  );
}
