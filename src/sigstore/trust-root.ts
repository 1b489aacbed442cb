// Where the trusted root comes from, and keeping it fresh. Three sources:
//  - public-good: @sigstore/tuf against tuf-repo-cdn.sigstore.dev. A cold TUF cache always needs the
//    network, so the store starts from the trusted_root.json embedded in @sigstore/tuf (seeds.json)
//    and switches to the TUF-verified one once a refresh succeeds;
//  - tuf: a custom mirror with its initial root.json (private Sigstore, internal mirror);
//  - static: one trusted_root.json held in memory (an inline TrustRoot): nothing to fetch, so a
//    refresh is a check that always succeeds;
//  - reader: a trusted_root.json re-read on every refresh (a --trusted-root file, a ConfigMap).
// Refreshes run one at a time (two TUF clients would write the same cache); a failed refresh keeps
// the last good root and records the error, so status shows the version, when a refresh last
// succeeded and what failed since. `lastSuccessAt` is what freshness alerts watch: it moves on every
// successful refresh, whether or not the root's bytes changed.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { SigwardError, redactUrlCredentials } from '../errors.ts';
import { SigstoreError, SigstoreErrorCode } from './errors.ts';
import { loadTrustRoot } from './trusted-root.ts';
import type { TrustRootSnapshot } from './trusted-root.ts';
import { openTufClient } from './tuf-client.ts';

export type { TrustRootSnapshot, TrustRootVersion } from './trusted-root.ts';
export { loadTrustRoot } from './trusted-root.ts';

export const PUBLIC_GOOD_MIRROR = 'https://tuf-repo-cdn.sigstore.dev';
const TRUSTED_ROOT_TARGET = 'trusted_root.json';

export type TrustRootSource =
  | { readonly kind: 'public-good'; readonly cachePath: string }
  | {
      readonly kind: 'tuf';
      readonly mirrorURL: string;
      /** Path of the mirror's initial root.json (only used to seed an empty cache). */
      readonly rootPath: string;
      readonly cachePath: string;
    }
  | { readonly kind: 'static'; readonly trustedRoot: Uint8Array; readonly name: string }
  | {
      readonly kind: 'reader';
      /** Where the bytes come from, for the snapshot's source (`file:/etc/root.json`, `configmap:ns/name#key`). */
      readonly origin: string;
      /** The bytes read at construction (a start that must fail on a bad file), if any. */
      readonly initial?: Uint8Array;
      /** Reads the current bytes; throws (a SigwardError with a code, ideally) when it cannot. */
      read(): Promise<Uint8Array> | Uint8Array;
    };

export interface TrustRootStatus {
  readonly version: string | undefined;
  readonly source: string | undefined;
  /** When the current root was loaded (embedded seed: at start). */
  readonly loadedAt: Date | undefined;
  readonly ageSeconds: number | undefined;
  /** True once a root came from TUF (or the static file), not only from the embedded seed. */
  readonly verifiedByTuf: boolean;
  /** When the last refresh started, and when one last succeeded (bytes changed or not). */
  readonly lastRefreshAt: Date | undefined;
  readonly lastSuccessAt: Date | undefined;
  readonly lastError: { readonly code: string; readonly message: string; readonly at: Date } | undefined;
}

export interface TrustRootStoreOptions {
  readonly now?: () => Date;
  /** TUF network timeout per request (ms). */
  readonly timeoutMs?: number;
  readonly retries?: number;
  /** Told after every refresh: undefined on success, else the error (the last good root stays). */
  readonly onRefresh?: (error: SigwardError | undefined) => void;
}

/** The trusted_root.json embedded in @sigstore/tuf for the public-good instance. */
export function embeddedPublicGoodTrustRoot(): TrustRootSnapshot {
  const require = createRequire(import.meta.url);
  const seeds = JSON.parse(readFileSync(require.resolve('@sigstore/tuf/seeds.json'), 'utf8')) as Record<
    string,
    { targets?: Record<string, string> }
  >;
  const encoded = seeds[PUBLIC_GOOD_MIRROR]?.targets?.[TRUSTED_ROOT_TARGET];
  if (!encoded)
    throw new SigstoreError(
      SigstoreErrorCode.trustRootUnavailable,
      '@sigstore/tuf has no embedded trusted root',
    );
  return loadTrustRoot(Buffer.from(encoded, 'base64'), 'embedded:@sigstore/tuf');
}

export class TrustRootStore {
  readonly #source: TrustRootSource;
  readonly #now: () => Date;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #onRefresh: TrustRootStoreOptions['onRefresh'];
  #current: TrustRootSnapshot | undefined;
  #loadedAt: Date | undefined;
  #verifiedByTuf = false;
  #lastRefreshAt: Date | undefined;
  #lastSuccessAt: Date | undefined;
  #lastError: TrustRootStatus['lastError'];
  #inflight: Promise<TrustRootSnapshot> | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(source: TrustRootSource, options: TrustRootStoreOptions = {}) {
    this.#source = source;
    this.#now = options.now ?? (() => new Date());
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#retries = options.retries ?? 2;
    this.#onRefresh = options.onRefresh;
    if (source.kind === 'static') {
      this.#set(loadTrustRoot(source.trustedRoot, `file:${source.name}`), true);
      this.#lastSuccessAt = this.#now();
    } else if (source.kind === 'reader' && source.initial !== undefined) {
      this.#set(loadTrustRoot(source.initial, source.origin), true);
      this.#lastSuccessAt = this.#now();
    } else if (source.kind === 'public-good') {
      this.#set(embeddedPublicGoodTrustRoot(), false);
    }
  }

  /** The root to verify with now, or undefined before a custom mirror was first reached. */
  current(): TrustRootSnapshot | undefined {
    return this.#current;
  }

  /** The current root; throws SIGSTORE_TRUST_ROOT_UNAVAILABLE when there is none yet. */
  require(): TrustRootSnapshot {
    if (this.#current) return this.#current;
    const why = this.#lastError ? `: ${this.#lastError.message}` : '';
    throw new SigstoreError(SigstoreErrorCode.trustRootUnavailable, `no trusted root is loaded yet${why}`);
  }

  /**
   * Fetches the root once (TUF, or a re-read; concurrent callers share one run). On failure the last
   * good root stays and the error is recorded and thrown. A static root only records the check.
   */
  refresh(): Promise<TrustRootSnapshot> {
    this.#inflight ??= this.#fetch().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  /** Refreshes now and then every `intervalMs` in the background; errors only update status. */
  start(intervalMs: number): void {
    this.stop();
    const tick = (): void => {
      this.refresh().catch(() => undefined);
    };
    tick();
    this.#timer = setInterval(tick, intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  status(): TrustRootStatus {
    const now = this.#now();
    return {
      version: this.#current?.version,
      source: this.#current?.source,
      loadedAt: this.#loadedAt,
      ageSeconds: this.#loadedAt
        ? Math.max(0, Math.floor((now.getTime() - this.#loadedAt.getTime()) / 1000))
        : undefined,
      verifiedByTuf: this.#verifiedByTuf,
      lastRefreshAt: this.#lastRefreshAt,
      lastSuccessAt: this.#lastSuccessAt,
      lastError: this.#lastError,
    };
  }

  #set(snapshot: TrustRootSnapshot, verified: boolean): void {
    // Same bytes as before: keep the snapshot (and its age) so caches keyed on the version stay warm.
    if (this.#current?.version !== snapshot.version || !this.#verifiedByTuf) {
      if (this.#current?.version !== snapshot.version) this.#loadedAt = this.#now();
      this.#current = snapshot;
    }
    this.#loadedAt ??= this.#now();
    this.#verifiedByTuf ||= verified;
  }

  async #fetch(): Promise<TrustRootSnapshot> {
    this.#lastRefreshAt = this.#now();
    try {
      const snapshot = await this.#load();
      this.#set(snapshot, true);
      this.#lastError = undefined;
      this.#lastSuccessAt = this.#now();
      this.#onRefresh?.(undefined);
      return this.#current ?? snapshot;
    } catch (error) {
      const wrapped =
        error instanceof SigwardError
          ? error
          : new SigstoreError(
              SigstoreErrorCode.trustRootUnavailable,
              `${this.#describeSource()} failed: ${describe(error)}`,
              { cause: error },
            );
      this.#lastError = { code: wrapped.code, message: wrapped.message, at: this.#now() };
      this.#onRefresh?.(wrapped);
      throw wrapped;
    }
  }

  async #load(): Promise<TrustRootSnapshot> {
    const source = this.#source;
    switch (source.kind) {
      case 'static':
        return this.require();
      case 'reader':
        return loadTrustRoot(await source.read(), source.origin);
      default: {
        const mirrorURL = source.kind === 'public-good' ? PUBLIC_GOOD_MIRROR : source.mirrorURL;
        const tuf = await openTufClient({
          mirrorURL,
          cachePath: source.cachePath,
          ...(source.kind === 'tuf' ? { rootPath: source.rootPath } : {}),
          timeoutMs: this.#timeoutMs,
          retries: this.#retries,
        });
        const text = await tuf.getTarget(TRUSTED_ROOT_TARGET);
        return loadTrustRoot(Buffer.from(text, 'utf8'), `tuf:${mirrorURL}`);
      }
    }
  }

  #describeSource(): string {
    const source = this.#source;
    if (source.kind === 'reader') return `reading ${source.origin}`;
    if (source.kind === 'static') return `loading ${source.name}`;
    return `TUF refresh from ${source.kind === 'public-good' ? PUBLIC_GOOD_MIRROR : redactUrlCredentials(source.mirrorURL)}`;
  }
}

// TUFError hides the real reason in `cause` (notes §4.1): show both, without a URL's credentials.
function describe(error: unknown): string {
  if (!(error instanceof Error)) return redactUrlCredentials(String(error));
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return redactUrlCredentials(`${error.message}${cause}`);
}
