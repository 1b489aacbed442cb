// Registry credentials from cloud workload identity (AWS ECR today). cli/ adds the keychain after the
// pull secrets; src/oci only sees `exchange` credentials.
export { parseEcrRegistry, type EcrRegistry } from './ecr-host.ts';
export {
  EcrCredentials,
  decodeAuthorizationToken,
  sdkTokenFetcher,
  type EcrCredentialsOptions,
  type EcrTokenFetcher,
} from './ecr.ts';
