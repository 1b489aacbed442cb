// The cosign v3 flow: an in-toto statement about the image (cosign's signature predicate, or an
// attestation's), signed as a DSSE bundle, witnessed, attached as a referrer, read back and verified.
import { bundleToJSON } from '@sigstore/bundle';
import { DSSEBundleBuilder } from '@sigstore/sign';
import {
  formatReference,
  referenceIn,
  repositoryString,
  withDigest,
  type ImageReference,
} from '../oci/index.ts';
import { parseBundle } from '../sigstore/bundle.ts';
import { IN_TOTO_PAYLOAD_TYPE } from '../sigstore/layout.ts';
import { verifyBundle, type SignedContent } from '../sigstore/verify.ts';
import { attachBundle, type SignedImage } from './attach.ts';
import { SignerError, SignerErrorCode } from './errors.ts';
import type { KeylessSigner } from './keyless-signer.ts';
import { imageStatement } from './payloads.ts';
import { withRetries } from './retry.ts';
import {
  identityOf,
  keylessTrust,
  retryOptions,
  selfCheck,
  signalOption,
  signingTime,
  signWitnessed,
  type SignContext,
  type SignOutcome,
} from './sign-context.ts';

export async function signStatement(
  ctx: SignContext,
  signer: KeylessSigner,
  image: SignedImage,
  reference: ImageReference,
  predicateType: string,
  predicate: unknown,
): Promise<SignOutcome> {
  const { bundle, issued, logIndex } = await signWitnessed(ctx, signer, (witnesses) =>
    new DSSEBundleBuilder({ signer, witnesses }).create({
      data: imageStatement(image.descriptor.digest, predicateType, predicate),
      type: IN_TOTO_PAYLOAD_TYPE,
    }),
  );
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
