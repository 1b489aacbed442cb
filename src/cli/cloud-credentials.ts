// The `--cloud-credentials` setting shared by `sigward webhook`, `sign` and `verify`: which cloud
// exchanges may answer a registry's 401 after the configured credentials (pull secrets, docker
// config, flags). `auto` (the default) enables all three, each acting only on its own registry hosts
// (ECR, Artifact Registry/GCR, ACR), as policy-controller's k8schain and Kyverno's default credential
// helpers do; a comma list (`ecr,acr`) enables only those; `none` turns them off.
import { AcrCredentials, EcrCredentials, GcpCredentials } from '../cloud/index.ts';
import { UsageError } from './usage-error.ts';
import {
  HttpTransport,
  TEST_REGISTRY_ENDPOINTS_ENV,
  anonymousKeychain,
  combineKeychains,
  parseRegistryEndpoints,
  type Keychain,
  type RegistryEndpoints,
} from '../oci/index.ts';

export const CLOUD_PROVIDERS = ['ecr', 'gcp', 'acr'] as const;
export type CloudProvider = (typeof CLOUD_PROVIDERS)[number];

export const CLOUD_CREDENTIALS_USAGE = `--cloud-credentials auto|none|LIST   registry tokens from the cloud identity, each provider for its own
                              hosts only: ecr (AWS ECR), gcp (Artifact Registry, GCR), acr (Azure ACR);
                              LIST e.g. ecr,acr (default auto: all three)`;

/** The providers a `--cloud-credentials` value enables; a UsageError with the accepted forms on anything else. */
export function cloudProviders(value: string | undefined): readonly CloudProvider[] {
  const chosen = (value ?? 'auto').trim();
  if (chosen === 'auto') return CLOUD_PROVIDERS;
  if (chosen === 'none') return [];
  const items = chosen.split(',').map((item) => item.trim());
  const unknown = items.filter((item) => !(CLOUD_PROVIDERS as readonly string[]).includes(item));
  if (unknown.length > 0) {
    throw new UsageError(
      `--cloud-credentials is auto, none, or a comma list of ${CLOUD_PROVIDERS.join(', ')} (got "${chosen}")`,
    );
  }
  return [...new Set(items as CloudProvider[])];
}

export interface CloudKeychainOptions {
  /**
   * The registry traffic's transport, for ACR's /oauth2/exchange: its TLS settings, connection pool and
   * exchange metrics (the webhook's). Without it, a transport of its own.
   */
  readonly transport?: HttpTransport;
  /** Test-only loopback endpoints, used for ACR's /oauth2/exchange as for registry traffic. */
  readonly registryEndpoints?: RegistryEndpoints;
}

/** The cloud keychain for a `--cloud-credentials` value; throws on an unknown one. */
export function cloudKeychain(value: string | undefined, options: CloudKeychainOptions = {}): Keychain {
  const keychains = cloudProviders(value).map((provider): Keychain => {
    switch (provider) {
      case 'ecr':
        return new EcrCredentials().keychain();
      case 'gcp':
        return new GcpCredentials().keychain();
      case 'acr':
        return new AcrCredentials({
          transport:
            options.transport ??
            new HttpTransport({
              ...(options.registryEndpoints === undefined
                ? {}
                : { registryEndpoints: options.registryEndpoints }),
            }),
        }).keychain();
    }
  });
  return keychains.length === 0 ? anonymousKeychain : combineKeychains(...keychains);
}

/** Test-only loopback endpoints for registry names (see src/oci/endpoints.ts). */
export function testRegistryEndpoints(env: NodeJS.ProcessEnv = process.env): RegistryEndpoints {
  return parseRegistryEndpoints(env[TEST_REGISTRY_ENDPOINTS_ENV]);
}
