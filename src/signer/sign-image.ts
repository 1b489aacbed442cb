// `sigward sign` and `sigward attest`, step by step: resolve the tag to a digest and make sure we may
// push there, make the ephemeral key and get its Fulcio certificate, sign, have the signature
// witnessed (Rekor, TSA), push it next to the image, and verify what was pushed with sigward's own
// verifier. Each step prints a line a person can follow; a failure before the push leaves the
// registry untouched. The per-format flows are sign-bundle.ts and sign-legacy.ts.
import {
  formatReference,
  isIndexType,
  referenceIn,
  type Descriptor,
  type ImageReference,
} from '../oci/index.ts';
import { COSIGN_SIGN_PREDICATE_TYPE } from '../sigstore/layout.ts';
import type { SignedImage } from './attach.ts';
import type { KeylessSigner } from './keyless-signer.ts';
import { DEFAULT_AUDIENCE } from './identity-token.ts';
import { withRetries } from './retry.ts';
import { checkClaims } from './token-claims.ts';
import { signStatement } from './sign-bundle.ts';
import {
  retryOptions,
  signerFor,
  type AttestRequest,
  type SignatureFormat,
  type SignContext,
  type SignOutcome,
  type SignRequest,
} from './sign-context.ts';
import { signLegacy } from './sign-legacy.ts';

export type {
  AttestRequest,
  SignatureFormat,
  SignContext,
  SignOutcome,
  SignRequest,
} from './sign-context.ts';
export { ctlogsOf, signingTime } from './sign-context.ts';

/**
 * The token is read and its claims checked before anything else, so a missing, expired or
 * wrong-audience token fails the run before a registry or a Sigstore service is contacted. (It is
 * read again when the certificate is requested: a projected token may have rotated meanwhile.)
 */
async function checkIdentity(ctx: SignContext): Promise<void> {
  const token = await ctx.identity.getToken(ctx.signal);
  const claims = checkClaims(token, {
    audience: ctx.audience ?? DEFAULT_AUDIENCE,
    source: ctx.identity.source,
  });
  ctx.progress?.(`Signing as ${claims.email ?? claims.subject} (issuer ${claims.issuer})`);
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
  await checkIdentity(ctx);
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
  await checkIdentity(ctx);
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
