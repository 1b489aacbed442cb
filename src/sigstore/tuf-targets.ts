// Sigstore's TUF-distributed targets besides the trusted root: above all `signing_config.v0.2.json`,
// which tells signers which Fulcio, Rekor and TSA to use (cosign v3 --use-signing-config). One TUF
// refresh, then each target read from the verified metadata. Public-good by default; a private mirror
// needs its initial root.json.
import { redactUrlCredentials } from '../errors.ts';
import { SigstoreError, SigstoreErrorCode } from './errors.ts';
import { PUBLIC_GOOD_MIRROR } from './trust-root.ts';
import { openTufClient } from './tuf-client.ts';

export const SIGNING_CONFIG_TARGET = 'signing_config.v0.2.json';
export const TRUSTED_ROOT_TARGET = 'trusted_root.json';

export interface TufLocation {
  /** Default public-good (tuf-repo-cdn.sigstore.dev, whose root is embedded in @sigstore/tuf). */
  readonly mirrorURL?: string;
  /** The mirror's initial root.json; required for any mirror but public-good. */
  readonly rootPath?: string;
  readonly cachePath: string;
  readonly timeoutMs?: number;
  readonly retries?: number;
}

/** Refreshes the TUF metadata once and returns the named targets' bytes. Throws SIGSTORE_TRUST_ROOT_UNAVAILABLE. */
export async function fetchTufTargets(
  location: TufLocation,
  names: readonly string[],
): Promise<Record<string, Uint8Array>> {
  const mirrorURL = location.mirrorURL ?? PUBLIC_GOOD_MIRROR;
  try {
    const tuf = await openTufClient({
      mirrorURL,
      cachePath: location.cachePath,
      ...(location.rootPath === undefined ? {} : { rootPath: location.rootPath }),
      timeoutMs: location.timeoutMs ?? 5000,
      retries: location.retries ?? 2,
    });
    const out: Record<string, Uint8Array> = {};
    for (const name of names) out[name] = Buffer.from(await tuf.getTarget(name), 'utf8');
    return out;
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
    const message = error instanceof Error ? error.message : String(error);
    throw new SigstoreError(
      SigstoreErrorCode.trustRootUnavailable,
      redactUrlCredentials(
        `TUF targets ${names.join(', ')} from ${mirrorURL} cannot be had: ${message}${cause}`,
      ),
      { cause: error },
    );
  }
}
