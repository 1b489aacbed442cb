// The legacy flow (`--format legacy`): cosign's simple-signing payload, a message signature,
// witnessed, added as a layer of the `sha256-<hex>.sig` manifest, read back and verified.
// With Rekor v2 the layer holds only the TSA timestamp (legacy-annotations.ts says why).
import { bundleToJSON } from '@sigstore/bundle';
import { MessageSignatureBundleBuilder } from '@sigstore/sign';
import {
  digestOf,
  formatReference,
  referenceIn,
  repositoryString,
  withDigest,
  type ImageReference,
} from '../oci/index.ts';
import { ANNOTATION } from '../sigstore/layout.ts';
import { legacySignatureToBundle } from '../sigstore/legacy.ts';
import { verifyBundle } from '../sigstore/verify.ts';
import type { SignedImage } from './attach.ts';
import { attachLegacySignature } from './attach-legacy.ts';
import { SignerError, SignerErrorCode } from './errors.ts';
import type { KeylessSigner } from './keyless-signer.ts';
import { legacyAnnotations } from './legacy-annotations.ts';
import { simpleSigningPayload } from './payloads.ts';
import { withRetries } from './retry.ts';
import {
  identityOf,
  keylessTrust,
  retryOptions,
  selfCheck,
  signalOption,
  signWitnessed,
  type SignContext,
  type SignOutcome,
} from './sign-context.ts';

export async function signLegacy(
  ctx: SignContext,
  signer: KeylessSigner,
  image: SignedImage,
  reference: ImageReference,
): Promise<SignOutcome> {
  const payload = simpleSigningPayload(repositoryString(image.name), image.descriptor.digest);
  const { bundle, issued, logIndex } = await signWitnessed(ctx, signer, (witnesses) =>
    new MessageSignatureBundleBuilder({ signer, witnesses }).create({ data: payload }),
  );
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
