// Registry credentials as the rest of sigward hands them to the OCI client: kube/ turns pull secrets
// into a Keychain, the signer may add its own. The protocol side (challenges, tokens) lives in
// challenge.ts and authenticator.ts; nothing here ever prints a secret.
export { parseDockerConfigJson, dockerConfigKeychain, registryOfAuthKey } from './credentials.ts';
export type { DockerConfig } from './credentials.ts';

/** How a registry lets us in. Secrets stay inside these objects and never reach logs or errors. */
export type RegistryCredential =
  | { readonly kind: 'basic'; readonly username: string; readonly password: string }
  /** An OAuth2 refresh token (`identitytoken` in a docker config), exchanged at the token endpoint. */
  | { readonly kind: 'identity-token'; readonly identityToken: string; readonly username?: string }
  /** A bearer token sent as is (`registrytoken` in a docker config). */
  | { readonly kind: 'registry-token'; readonly token: string }
  | ExchangedCredential;

export type BasicCredential = Extract<RegistryCredential, { kind: 'basic' }>;
export type IdentityTokenCredential = Extract<RegistryCredential, { kind: 'identity-token' }>;

/**
 * What an exchange yields: a username and password (or, from a docker credential helper, an identity
 * token), and when the registry stops accepting it.
 */
export interface ObtainedCredential {
  readonly credential: BasicCredential | IdentityTokenCredential;
  /** Epoch ms; undefined when the source does not say (then Basic's usual reuse applies). */
  readonly expiresAt?: number;
}

/**
 * A credential obtained only when a registry asks for one, by exchanging a workload identity with a
 * cloud provider (AWS ECR's GetAuthorizationToken) or by running a program (a docker credential
 * helper, a kubelet credential provider plugin): the keychain answers at once, and the exchange runs
 * when a 401 comes, after the candidates before it were refused. `id` names it in caches (never a
 * secret). `obtain` throws a SigwardError (REGISTRY_UNAUTHORIZED) that names the source's failure
 * without secrets; with `refresh` it must not return what it returned before from its cache. It may
 * yield several credentials, tried in that order (a plugin's matching `auth` entries), or none (a
 * helper that has nothing for this registry: anonymous, as docker does).
 */
export interface ExchangedCredential {
  readonly kind: 'exchange';
  readonly id: string;
  obtain(options: {
    readonly refresh: boolean;
    readonly signal?: AbortSignal;
  }): Promise<ObtainedCredential | readonly ObtainedCredential[]>;
}

/** Where credentials come from: the ones that apply to a repository, best first (none = anonymous). */
export interface Keychain {
  credentialsFor(registry: string, repository: string): readonly RegistryCredential[];
}

export const anonymousKeychain: Keychain = { credentialsFor: () => [] };

/**
 * Asks each keychain in turn; the candidates of all of them, in that order. The anonymous keychain adds
 * none and is left out, and a single keychain left is handed back itself: a workload without pull
 * secrets is then asked with the very keychain the next one is (the cloud chain), so the registry
 * access (engine/registry-adapters.ts: one client per keychain) builds no client per review.
 */
export function combineKeychains(...keychains: readonly Keychain[]): Keychain {
  const parts = keychains.filter((k) => k !== anonymousKeychain);
  if (parts.length === 0) return anonymousKeychain;
  if (parts.length === 1) return parts[0]!;
  return {
    credentialsFor: (registry, repository) => parts.flatMap((k) => k.credentialsFor(registry, repository)),
  };
}

/** A keychain of fixed credentials per registry (CLI flags, tests). */
export function staticKeychain(entries: Readonly<Record<string, RegistryCredential>>): Keychain {
  return { credentialsFor: (registry) => (entries[registry] === undefined ? [] : [entries[registry]]) };
}
