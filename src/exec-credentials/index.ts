// Registry credentials from programs sigward runs: docker credential helpers named by a docker config
// file, and kubelet credential provider plugins named by a CredentialProviderConfig. cli/ adds their
// keychains after pull secrets; src/oci only sees `exchange` credentials.
export {
  DockerCredentialHelpers,
  dockerConfigFileKeychain,
  type DockerCredentialHelpersOptions,
} from './docker-helper.ts';
export { urlsMatch, globMatches } from './image-match.ts';
export { readCredentialProviderConfig, type CredentialProvider } from './provider-config.ts';
export { CredentialProviderPlugins, type CredentialProviderPluginsOptions } from './provider-plugin.ts';
