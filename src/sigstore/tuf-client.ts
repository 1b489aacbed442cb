// The one place @sigstore/tuf is loaded, on first use: a process whose roots are all files, inline or
// ConfigMaps (`--trusted-root`) never refreshes through TUF, so it never loads tuf-js and the packages it
// pulls in (test/cli/start-up-modules.test.ts fails if a static import comes back).
import type { TUF } from '@sigstore/tuf';
import { hasUrlCredentials } from '../errors.ts';

export interface TufClientOptions {
  readonly mirrorURL: string;
  /** The mirror's initial root.json (any mirror but public-good, whose root @sigstore/tuf embeds). */
  readonly rootPath?: string;
  readonly cachePath: string;
  /** Per network request (ms). */
  readonly timeoutMs: number;
  readonly retries: number;
}

/** Refreshes the TUF metadata (initTUF); targets are then read from the verified metadata. */
export async function openTufClient(options: TufClientOptions): Promise<TUF> {
  // fetch refuses a URL with credentials and quotes the URL, password included, in its error.
  if (hasUrlCredentials(options.mirrorURL))
    throw new Error(
      'the mirror URL carries a user name or password, which sigward neither sends nor shows: serve the mirror without credentials in its URL',
    );
  const { initTUF } = await import('@sigstore/tuf');
  return initTUF({
    mirrorURL: options.mirrorURL,
    cachePath: options.cachePath,
    ...(options.rootPath === undefined ? {} : { rootPath: options.rootPath }),
    timeout: options.timeoutMs,
    retry: { retries: options.retries },
  });
}
