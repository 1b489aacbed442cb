// The trusted roots by TrustRoot name, kept in step with the policy snapshot. `public-good` is the
// embedded public-good root refreshed through TUF in the background (or, with --trusted-root, that
// file: air-gapped or a private Sigstore). TrustRoot resources: inline trusted_root.json (static), a
// TUF mirror with its root.json (refreshed), or public-good. A root whose bytes change gets a new
// version, and the verdict cache keys on it.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CompiledTrustRoot } from '../policy/compile.ts';
import { TrustRootStore } from '../sigstore/trust-root.ts';
import type { TrustRootSnapshot, TrustRootStatus } from '../sigstore/trust-root.ts';
import type { TrustRootSource } from './ports.ts';

export interface TrustRootRegistryOptions {
  /** The root that `public-good` means (a --trusted-root file); default: embedded + TUF refresh. */
  readonly publicGood?: TrustRootStore;
  /** TUF refresh interval; 0 disables background refresh (tests, offline start). Default 1 h. */
  readonly refreshMs?: number;
  /** Where TUF caches live. Default a fresh temporary directory. */
  readonly cacheDir?: string;
}

interface Entry {
  readonly key: string;
  readonly store: TrustRootStore;
}

export class TrustRootRegistry implements TrustRootSource {
  readonly #options: TrustRootRegistryOptions;
  readonly #publicGood: TrustRootStore;
  readonly #entries = new Map<string, Entry>();
  readonly #cacheDir: string;

  constructor(options: TrustRootRegistryOptions = {}) {
    this.#options = options;
    this.#cacheDir = options.cacheDir ?? mkdtempSync(join(tmpdir(), 'sigward-tuf-'));
    this.#publicGood =
      options.publicGood ??
      new TrustRootStore({ kind: 'public-good', cachePath: join(this.#cacheDir, 'public-good') });
    if ((options.refreshMs ?? 3_600_000) > 0 && options.publicGood === undefined)
      this.#publicGood.start(options.refreshMs ?? 3_600_000);
  }

  trustRoot(name: string): TrustRootSnapshot | undefined {
    const entry = this.#entries.get(name);
    if (entry !== undefined) return entry.store.current();
    return name === 'public-good' ? this.#publicGood.current() : undefined;
  }

  /** The default root's status (age, version, last refresh error). */
  publicGoodStatus(): TrustRootStatus {
    return this.#publicGood.status();
  }

  /** Is at least the default root loaded? */
  get loaded(): boolean {
    return this.#publicGood.current() !== undefined;
  }

  /** Brings the stores in line with the snapshot's TrustRoot resources. */
  sync(trustRoots: ReadonlyMap<string, CompiledTrustRoot>): void {
    for (const [name, entry] of this.#entries) {
      if (!trustRoots.has(name)) {
        entry.store.stop();
        this.#entries.delete(name);
      }
    }
    for (const [name, root] of trustRoots) {
      const source = root.source;
      if (source === undefined || source.kind === 'public-good') {
        this.#entries.get(name)?.store.stop();
        this.#entries.delete(name);
        continue;
      }
      // A ConfigMap is read by the caller (kube/), which syncs again with it inline: keep what is loaded.
      if (source.kind === 'configMap') continue;
      const key = JSON.stringify(source);
      if (this.#entries.get(name)?.key === key) continue;
      this.#entries.get(name)?.store.stop();
      let store: TrustRootStore;
      try {
        store = this.#storeFor(name, source);
      } catch {
        this.#entries.delete(name);
        continue;
      }
      this.#entries.set(name, { key, store });
    }
  }

  #storeFor(name: string, source: NonNullable<CompiledTrustRoot['source']>): TrustRootStore {
    switch (source.kind) {
      case 'inline':
        return new TrustRootStore({ kind: 'static', trustedRoot: Buffer.from(source.trustedRoot), name });
      case 'tuf': {
        const dir = join(this.#cacheDir, `tuf-${name}`);
        mkdirSync(dir, { recursive: true });
        const rootPath = join(dir, 'root.json');
        const text = source.root.trim().startsWith('{')
          ? source.root
          : Buffer.from(source.root, 'base64').toString();
        writeFileSync(rootPath, text);
        const store = new TrustRootStore({
          kind: 'tuf',
          mirrorURL: source.mirror,
          rootPath,
          cachePath: join(dir, 'cache'),
        });
        store.start(this.#options.refreshMs || 3_600_000);
        return store;
      }
      default:
        throw new Error(`TrustRoot source ${source.kind} is not supported by this build`);
    }
  }

  stop(): void {
    this.#publicGood.stop();
    for (const entry of this.#entries.values()) entry.store.stop();
  }
}
