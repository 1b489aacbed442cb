// The OCI distribution client the rest of sigward uses: one object per set of credentials (a keychain),
// sharing a TokenCache across them. Reads never need more than pull access; pushes ask for push.
import { anonymousKeychain, type Keychain } from './auth.ts';
import { Authenticator, TokenCache } from './authenticator.ts';
import {
  blobExists,
  checkPushAccess,
  getBlob,
  pushBlob,
  type GetBlobOptions,
  type PushBlobOptions,
  type PushedBlob,
} from './blobs.ts';
import type { Context, Limits } from './context.ts';
import { HttpTransport, type TransportOptions } from './http.ts';
import type { Descriptor } from './manifest.ts';
import {
  findManifest,
  getManifest,
  pushManifest,
  resolveManifest,
  type FetchedManifest,
  type PushedManifest,
  type PushManifestOptions,
} from './manifests.ts';
import type { ImageReference, RepositoryName } from './reference.ts';
import {
  addToReferrersTag,
  listReferrers,
  pushReferrer,
  type PushedReferrer,
  type Referrers,
  type ReferrersOptions,
} from './referrers.ts';
import { ReferrersSupport } from './referrers-support.ts';
import { Session } from './session.ts';

export interface RegistryClientOptions extends TransportOptions {
  /** Credentials to use; anonymous by default. */
  keychain?: Keychain;
  /** Shared token cache; a private one by default. */
  tokenCache?: TokenCache;
  /** Default 4 MiB. */
  maxManifestBytes?: number;
  /** Default 32 MiB. */
  maxBlobBytes?: number;
  /** Reuse another client's connections (and its transport options) instead of opening new ones. */
  transport?: HttpTransport;
  /** Which registries lack the referrers API; by default one memory per transport, shared by its clients. */
  referrersSupport?: ReferrersSupport;
}

const supportByTransport = new WeakMap<HttpTransport, ReferrersSupport>();

function referrersSupportOf(transport: HttpTransport): ReferrersSupport {
  let support = supportByTransport.get(transport);
  if (support === undefined) {
    support = new ReferrersSupport();
    supportByTransport.set(transport, support);
  }
  return support;
}

export const DEFAULT_MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
export const DEFAULT_MAX_BLOB_BYTES = 32 * 1024 * 1024;

export class RegistryClient {
  readonly #context: Context;
  readonly #ownsTransport: boolean;

  constructor(options: RegistryClientOptions = {}) {
    const transport = options.transport ?? new HttpTransport(options);
    this.#ownsTransport = options.transport === undefined;
    const authenticator = new Authenticator(
      transport,
      options.keychain ?? anonymousKeychain,
      options.tokenCache ?? new TokenCache(),
    );
    const limits: Limits = {
      maxManifestBytes: options.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES,
      maxBlobBytes: options.maxBlobBytes ?? DEFAULT_MAX_BLOB_BYTES,
    };
    this.#context = {
      session: new Session(transport, authenticator),
      limits,
      referrers: options.referrersSupport ?? referrersSupportOf(transport),
    };
  }

  /** The transport, to build more clients (other keychains) over the same connections. */
  get transport(): HttpTransport {
    return this.#context.session.transport;
  }

  /** Tag or digest → descriptor (digest, media type, size). */
  resolve(reference: ImageReference, signal?: AbortSignal): Promise<Descriptor> {
    return resolveManifest(this.#context, reference, signal);
  }

  /** The manifest or index, digest checked; REGISTRY_NOT_FOUND when absent. */
  getManifest(reference: ImageReference, signal?: AbortSignal): Promise<FetchedManifest> {
    return getManifest(this.#context, reference, signal);
  }

  /** The manifest or index, or undefined when the registry says 404. */
  findManifest(reference: ImageReference, signal?: AbortSignal): Promise<FetchedManifest | undefined> {
    return findManifest(this.#context, reference, signal);
  }

  getBlob(name: RepositoryName, blob: string | Descriptor, options?: GetBlobOptions): Promise<Uint8Array> {
    return getBlob(this.#context, name, blob, options);
  }

  blobExists(name: RepositoryName, digest: string, signal?: AbortSignal): Promise<boolean> {
    return blobExists(this.#context, name, digest, signal);
  }

  listReferrers(name: RepositoryName, subject: string, options?: ReferrersOptions): Promise<Referrers> {
    return listReferrers(this.#context, name, subject, options);
  }

  /**
   * True while `registry` is remembered (for a few minutes) as serving the referrers API: the fallback
   * tag need not be read beside it.
   */
  servesReferrersApi(registry: string): boolean {
    return this.#context.referrers?.knownPresent(registry) === true;
  }

  pushBlob(name: RepositoryName, bytes: Uint8Array, options?: PushBlobOptions): Promise<PushedBlob> {
    return pushBlob(this.#context, name, bytes, options);
  }

  /** Throws the registry's refusal when we may not push to `name`; writes nothing. */
  checkPushAccess(name: RepositoryName, signal?: AbortSignal): Promise<void> {
    return checkPushAccess(this.#context, name, signal);
  }

  pushManifest(
    name: RepositoryName,
    bytes: Uint8Array,
    mediaType: string,
    options?: PushManifestOptions,
  ): Promise<PushedManifest> {
    return pushManifest(this.#context, name, bytes, mediaType, options);
  }

  /** Pushes a manifest with a subject by digest and keeps the referrers fallback tag when needed. */
  pushReferrer(
    name: RepositoryName,
    bytes: Uint8Array,
    mediaType: string,
    signal?: AbortSignal,
  ): Promise<PushedReferrer> {
    return pushReferrer(this.#context, name, bytes, mediaType, signal);
  }

  addToReferrersTag(
    name: RepositoryName,
    subject: string,
    descriptor: Descriptor,
    signal?: AbortSignal,
  ): Promise<boolean> {
    return addToReferrersTag(this.#context, name, subject, descriptor, signal);
  }

  /** Closes the connections, if this client opened them. */
  async close(): Promise<void> {
    if (this.#ownsTransport) await this.#context.session.transport.close();
  }
}
