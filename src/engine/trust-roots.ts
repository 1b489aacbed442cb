// The trusted roots by TrustRoot name, kept in step with the policy snapshot. `public-good` is the
// embedded public-good root refreshed through TUF in the background (or, with --trusted-root, that
// file, re-read when it changes: air-gapped or a private Sigstore). TrustRoot resources: inline
// trusted_root.json (static), a TUF mirror with its root.json (refreshed), a ConfigMap (re-read when
// kube/ sees it change), or public-good. A root whose bytes change gets a new version, and the verdict
// cache keys on it. Every root is refreshed or checked on an interval, so "when did this root last
// refresh successfully" stays meaningful for each of them (the freshness metric and status condition).
import { mkdirSync, mkdtempSync, readFileSync, unwatchFile, watchFile, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SigwardError } from '../errors.ts';
import type { CompiledTrustRoot } from '../policy/compile.ts';
import { PUBLIC_GOOD_TRUST_ROOT } from '../policy/types.ts';
import { TrustRootStore } from '../sigstore/trust-root.ts';
import type { TrustRootSnapshot, TrustRootStatus } from '../sigstore/trust-root.ts';
import type { TrustRootSource } from './ports.ts';

/** A TrustRoot's `configMapRef` (namespace undefined: sigward's own, resolved by the reader). */
export interface ConfigMapRef {
  readonly namespace: string | undefined;
  readonly name: string;
  readonly key: string;
}

/** The ConfigMaps TrustRoots name (kube/ implements it with a watch on each). */
export interface ConfigMapContent {
  /** The ConfigMaps to watch now: exactly these. */
  track(refs: readonly ConfigMapRef[]): void;
  /** The key's text now; throws a SigwardError (KUBE_CONFIGMAP_*) when it cannot be had. */
  read(ref: ConfigMapRef): Promise<string>;
  /** `namespace/name`, the namespace resolved (for the root's source in status and logs). */
  where(ref: ConfigMapRef): string;
}

/** A root's refresh state in words, for its TrustRoot's `Refreshed` status condition. */
export interface RefreshState {
  readonly ok: boolean;
  readonly reason: 'Refreshed' | 'RefreshFailed';
  readonly message: string;
}

export interface TrustRootRegistryOptions {
  /** A trusted_root.json file that `public-good` means (--trusted-root); default: embedded + TUF. */
  readonly trustedRootFile?: string;
  /** TUF refresh interval; 0 disables the public-good background refresh (tests, offline start). Default 1 h. */
  readonly refreshMs?: number;
  /** How often roots without TUF (file, ConfigMap, inline) are re-read or checked; 0: never. Default 60 s. */
  readonly checkMs?: number;
  /** How often the --trusted-root file is polled for a change (a mounted ConfigMap swaps a symlink). Default 1 s. */
  readonly filePollMs?: number;
  /** Where TUF caches live. Default a fresh temporary directory. */
  readonly cacheDir?: string;
  readonly configMaps?: ConfigMapContent;
  /** After every refresh or check of a root: undefined on success, else why it failed. */
  readonly refreshed?: (trustRoot: string, error: SigwardError | undefined) => void;
}

interface Entry {
  readonly key: string;
  readonly store: TrustRootStore;
  readonly configMap: boolean;
}

export class TrustRootRegistry implements TrustRootSource {
  readonly #options: TrustRootRegistryOptions;
  readonly #publicGood: TrustRootStore;
  readonly #entries = new Map<string, Entry>();
  /** TrustRoot resources other than `public-good` whose spec is publicGood: the same store. */
  #aliases: ReadonlySet<string> = new Set();
  /** Where TUF metadata is cached: made on first use, so roots read from files alone make none. */
  #cacheDir: string | undefined;
  #unwatch: (() => void) | undefined;

  constructor(options: TrustRootRegistryOptions = {}) {
    this.#options = options;
    this.#cacheDir = options.cacheDir;
    // The public-good store also serves TrustRoots of other names whose spec is publicGood: each
    // hears of its refreshes (their status conditions and failure counters follow it too).
    const refreshed = (error: SigwardError | undefined): void => {
      for (const name of [PUBLIC_GOOD_TRUST_ROOT, ...this.#aliases]) this.#options.refreshed?.(name, error);
    };
    const file = options.trustedRootFile;
    if (file === undefined) {
      this.#publicGood = new TrustRootStore(
        { kind: 'public-good', cachePath: join(this.#tufCache(), 'public-good') },
        { onRefresh: refreshed },
      );
      if ((options.refreshMs ?? 3_600_000) > 0) this.#publicGood.start(options.refreshMs ?? 3_600_000);
    } else {
      // Read once here so a bad file fails the start; later a bad file keeps the last good root.
      const store = new TrustRootStore(
        {
          kind: 'reader',
          origin: `file:${file}`,
          initial: readFileSync(file),
          read: () => readFile(file),
        },
        { onRefresh: refreshed },
      );
      this.#publicGood = store;
      this.#startLocal(store);
      const poll = (): void => void store.refresh().catch(() => undefined);
      watchFile(file, { interval: options.filePollMs ?? 1000, persistent: false }, poll);
      this.#unwatch = () => unwatchFile(file, poll);
    }
  }

  #tufCache(): string {
    return (this.#cacheDir ??= mkdtempSync(join(tmpdir(), 'sigward-tuf-')));
  }

  trustRoot(name: string): TrustRootSnapshot | undefined {
    return this.#storeOf(name)?.current();
  }

  /** The default root's status (version, last successful refresh, last error). */
  publicGoodStatus(): TrustRootStatus {
    return this.#publicGood.status();
  }

  /** Every root by TrustRoot name (`public-good` always), for the freshness metric. */
  statuses(): Array<{ readonly trustRoot: string; readonly status: TrustRootStatus }> {
    const names = [PUBLIC_GOOD_TRUST_ROOT, ...this.#aliases, ...this.#entries.keys()];
    return [...new Set(names)].map((trustRoot) => ({
      trustRoot,
      status: this.#storeOf(trustRoot)!.status(),
    }));
  }

  /** The refresh state of one TrustRoot, once it was refreshed or checked at least once. */
  refreshState(name: string): RefreshState | undefined {
    const status = this.#storeOf(name)?.status();
    if (status === undefined || (status.lastSuccessAt === undefined && status.lastError === undefined))
      return undefined;
    const root = status.version === undefined ? '' : `${status.version} from ${status.source ?? '?'}`;
    if (status.lastError === undefined) return { ok: true, reason: 'Refreshed', message: `root ${root}` };
    const kept =
      status.version === undefined
        ? 'no root is loaded: verifications against this TrustRoot fail [TRUST_ROOT_ERROR]'
        : `still verifying with the last good root ${root}`;
    return {
      ok: false,
      reason: 'RefreshFailed',
      message: `[${status.lastError.code}] ${status.lastError.message}; ${kept}`,
    };
  }

  /** Is at least the default root loaded? */
  get loaded(): boolean {
    return this.#publicGood.current() !== undefined;
  }

  /** Refreshes (or re-reads, or checks) one root now; resolves to the error when it failed. */
  async refresh(name: string): Promise<SigwardError | undefined> {
    try {
      await this.#storeOf(name)?.refresh();
      return undefined;
    } catch (error) {
      return error as SigwardError;
    }
  }

  /** A ConfigMap changed (kube/ saw it): re-read every ConfigMap-held root now. */
  configMapsChanged(): void {
    for (const entry of this.#entries.values())
      if (entry.configMap) entry.store.refresh().catch(() => undefined);
  }

  /** Brings the stores in line with the snapshot's TrustRoot resources. */
  sync(trustRoots: ReadonlyMap<string, CompiledTrustRoot>): void {
    const aliases = new Set<string>();
    const configMaps: ConfigMapRef[] = [];
    for (const [name, entry] of this.#entries) {
      if (!trustRoots.has(name)) {
        entry.store.stop();
        this.#entries.delete(name);
      }
    }
    for (const [name, root] of trustRoots) {
      const source = root.source;
      if (source === undefined || source.kind === 'public-good') {
        if (source !== undefined && name !== PUBLIC_GOOD_TRUST_ROOT) aliases.add(name);
        this.#entries.get(name)?.store.stop();
        this.#entries.delete(name);
        continue;
      }
      if (source.kind === 'configMap') configMaps.push(source);
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
      this.#entries.set(name, { key, store, configMap: source.kind === 'configMap' });
    }
    this.#aliases = aliases;
    this.#options.configMaps?.track(configMaps);
  }

  #storeOf(name: string): TrustRootStore | undefined {
    const entry = this.#entries.get(name);
    if (entry !== undefined) return entry.store;
    return name === PUBLIC_GOOD_TRUST_ROOT || this.#aliases.has(name) ? this.#publicGood : undefined;
  }

  #observer(name: string): (error: SigwardError | undefined) => void {
    return (error) => this.#options.refreshed?.(name, error);
  }

  /** Loads now, then re-reads or checks every checkMs (0: only now). */
  #startLocal(store: TrustRootStore): void {
    const checkMs = this.#options.checkMs ?? 60_000;
    if (checkMs > 0) store.start(checkMs);
    else store.refresh().catch(() => undefined);
  }

  #storeFor(name: string, source: NonNullable<CompiledTrustRoot['source']>): TrustRootStore {
    const onRefresh = this.#observer(name);
    switch (source.kind) {
      case 'inline': {
        // A reader, not a static root: bytes that do not load show as a refresh error (status, metric).
        const bytes = Buffer.from(source.trustedRoot);
        const store = new TrustRootStore(
          { kind: 'reader', origin: `inline:${name}`, read: () => bytes },
          { onRefresh },
        );
        this.#startLocal(store);
        return store;
      }
      case 'configMap': {
        const configMaps = this.#options.configMaps;
        const where = configMaps?.where(source) ?? `${source.namespace ?? ''}/${source.name}`;
        const store = new TrustRootStore(
          {
            kind: 'reader',
            origin: `configmap:${where}#${source.key}`,
            read: async () => {
              if (configMaps === undefined) throw new Error('ConfigMap TrustRoots need a cluster');
              return Buffer.from(await configMaps.read(source));
            },
          },
          { onRefresh },
        );
        this.#startLocal(store);
        return store;
      }
      case 'tuf': {
        const dir = join(this.#tufCache(), `tuf-${name}`);
        mkdirSync(dir, { recursive: true });
        const rootPath = join(dir, 'root.json');
        const text = source.root.trim().startsWith('{')
          ? source.root
          : Buffer.from(source.root, 'base64').toString();
        writeFileSync(rootPath, text);
        const store = new TrustRootStore(
          { kind: 'tuf', mirrorURL: source.mirror, rootPath, cachePath: join(dir, 'cache') },
          { onRefresh },
        );
        store.start(this.#options.refreshMs || 3_600_000);
        return store;
      }
      default:
        throw new Error(`TrustRoot source ${source.kind} is not supported by this build`);
    }
  }

  stop(): void {
    this.#unwatch?.();
    this.#publicGood.stop();
    for (const entry of this.#entries.values()) entry.store.stop();
  }
}
