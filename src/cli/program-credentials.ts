// The registry-credential flags shared by `sigward webhook`, `sign` and `verify` that run programs:
// `--credential-provider-config` + `--credential-provider-bin-dir` (kubelet credential provider
// plugins, e.g. the ecr-credential-provider EKS nodes run) and the docker config FILE's credHelpers /
// credsStore (`--registry-config`, else $DOCKER_CONFIG/config.json). Pull secrets never run programs.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SigwardError } from '../errors.ts';
import {
  CredentialProviderPlugins,
  DockerCredentialHelpers,
  dockerConfigFileKeychain,
  readCredentialProviderConfig,
} from '../exec-credentials/index.ts';
import { parseDockerConfigJson, type Keychain } from '../oci/index.ts';

export const programCredentialOptions = {
  'credential-provider-config': { type: 'string' },
  'credential-provider-bin-dir': { type: 'string' },
} as const;

export const CREDENTIAL_PROVIDER_USAGE = `--credential-provider-config FILE|DIR --credential-provider-bin-dir DIR
                              run the kubelet credential provider plugins of this CredentialProviderConfig
                              (matchImages, cache durations and auth entries as the kubelet does)`;

/** The plugins' keychain, or undefined when the flags are absent. Throws with a message naming the flag. */
export function credentialProviderKeychain(
  values: {
    readonly 'credential-provider-config'?: string | undefined;
    readonly 'credential-provider-bin-dir'?: string | undefined;
  },
  env: NodeJS.ProcessEnv = process.env,
): Keychain | undefined {
  const config = values['credential-provider-config'];
  const binDir = values['credential-provider-bin-dir'];
  if (config === undefined && binDir === undefined) return undefined;
  if (config === undefined || binDir === undefined) {
    const missing =
      config === undefined
        ? '--credential-provider-config is missing (the CredentialProviderConfig naming the plugins)'
        : '--credential-provider-bin-dir is missing (the directory holding the plugin executables)';
    throw new Error(`--credential-provider-config and --credential-provider-bin-dir go together: ${missing}`);
  }
  return new CredentialProviderPlugins(readCredentialProviderConfig(config, binDir), { env }).keychain();
}

/** A docker config file's keychain: auths, and its credential helpers run when a registry asks. */
export function dockerConfigFileKeychainFrom(
  text: string | Uint8Array,
  source: string,
  env: NodeJS.ProcessEnv = process.env,
): Keychain {
  return dockerConfigFileKeychain(
    parseDockerConfigJson(text, source),
    new DockerCredentialHelpers({ env }),
    source,
  );
}

/** The docker config file docker, crane and cosign read when none is named. */
export function defaultDockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env['DOCKER_CONFIG'] ?? join(env['HOME'] ?? homedir(), '.docker'), 'config.json');
}

/**
 * The one docker config FILE reader of every command. `named` is the file the user gave
 * (`--registry-config`): it must be readable, else a clear error. Without one, `sign`, `verify`,
 * `verify-attestation` and `policy test` read docker's default, $DOCKER_CONFIG/config.json, else
 * $HOME/.docker/config.json (`useDefault`; the webhook reads none: it has no home): a default file that
 * does not exist means no credentials (undefined), one that exists but cannot be read is an error too.
 * Errors name the file, never its content.
 */
export function dockerConfigFileKeychainFor(
  named: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  { useDefault = true }: { readonly useDefault?: boolean } = {},
): Keychain | undefined {
  if (named === undefined && !useDefault) return undefined;
  const path = named ?? defaultDockerConfigPath(env);
  let text: Buffer;
  try {
    text = readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    if (named === undefined && (code === 'ENOENT' || code === 'ENOTDIR')) return undefined;
    const message =
      named === undefined
        ? `${path} (the docker config: $DOCKER_CONFIG/config.json, else ~/.docker/config.json): ${code}: it exists but cannot be read (fix it, or point DOCKER_CONFIG at another directory)`
        : `--registry-config ${path}: ${code}: expected a docker config.json file (fix the path or drop the flag)`;
    throw new SigwardError('CREDENTIALS_INVALID', message, { cause: error, details: { source: path } });
  }
  return dockerConfigFileKeychainFrom(text, path, env);
}

/** `--registry-config FILE` for the webhook: undefined without the flag (no default file). */
export function registryConfigKeychain(path: string | undefined): Keychain | undefined {
  return dockerConfigFileKeychainFor(path, process.env, { useDefault: false });
}
