// CNCF distribution v3 (the registry self-hosted users run as `registry:3`), built from the pinned tools
// module e2e/tools/distribution by `bash e2e/tools/install.sh distribution-registry` (e2e tier). It is
// the same program as Debian's docker-registry 2.8, three years on: same `serve CONFIG`, same version
// 0.1 config, so it starts through startDockerRegistry with another binary. Like 2.8 it has no
// referrers API (404), so cosign uses the fallback tag. Only e2e and the bench use it: npm test needs
// no Go-built tools.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  startDockerRegistry,
  type DockerRegistry,
  type DockerRegistryOptions,
  type RegistryProgram,
} from './docker-registry.ts';

export const DISTRIBUTION_REGISTRY_BIN =
  process.env['SIGWARD_DISTRIBUTION_REGISTRY'] ??
  fileURLToPath(new URL('../../e2e/.bin/distribution-registry', import.meta.url));

export const DISTRIBUTION_V3: RegistryProgram = {
  name: 'distribution v3',
  bin: DISTRIBUTION_REGISTRY_BIN,
  install: 'bash e2e/tools/install.sh distribution-registry',
  // v3 exports OpenTelemetry traces to localhost:4318 unless told not to; its official image sets this.
  env: { OTEL_TRACES_EXPORTER: 'none' },
};

/** Whether the binary is built (the bench measures its cases only then). */
export function distributionRegistryBuilt(): boolean {
  return existsSync(DISTRIBUTION_REGISTRY_BIN);
}

export function startDistributionRegistry(
  options: Omit<DockerRegistryOptions, 'program'> = {},
): Promise<DockerRegistry> {
  return startDockerRegistry({ ...options, program: DISTRIBUTION_V3 });
}
