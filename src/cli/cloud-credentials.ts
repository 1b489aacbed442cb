// The `--cloud-credentials` setting shared by `sigward webhook`, `sign` and `verify`: which cloud
// exchanges may answer a registry's 401 after the configured credentials (pull secrets, docker
// config, flags). `ecr` (the default) acts only for ECR hosts, as policy-controller's k8schain and
// Kyverno's default credential helpers do; `none` turns it off.
import { EcrCredentials } from '../cloud/index.ts';
import {
  TEST_REGISTRY_ENDPOINTS_ENV,
  anonymousKeychain,
  parseRegistryEndpoints,
  type Keychain,
  type RegistryEndpoints,
} from '../oci/index.ts';

export const CLOUD_CREDENTIALS_USAGE =
  '--cloud-credentials ecr|none   AWS ECR hosts get a token from the AWS identity (IRSA, Pod Identity, env) (default ecr)';

/** The cloud keychain for a `--cloud-credentials` value; throws on an unknown one. */
export function cloudKeychain(value: string | undefined): Keychain {
  const chosen = value ?? 'ecr';
  if (chosen === 'none') return anonymousKeychain;
  if (chosen === 'ecr') return new EcrCredentials().keychain();
  throw new Error('--cloud-credentials is ecr or none');
}

/** Test-only loopback endpoints for registry names (see src/oci/endpoints.ts). */
export function testRegistryEndpoints(env: NodeJS.ProcessEnv = process.env): RegistryEndpoints {
  return parseRegistryEndpoints(env[TEST_REGISTRY_ENDPOINTS_ENV]);
}
