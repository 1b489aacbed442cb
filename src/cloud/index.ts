// Registry credentials from cloud workload identity: AWS ECR, Google Artifact Registry / GCR, Azure
// ACR. cli/ adds the keychains after the pull secrets; src/oci only sees `exchange` credentials.
export { parseEcrRegistry, type EcrRegistry } from './ecr-host.ts';
export {
  EcrCredentials,
  decodeAuthorizationToken,
  sdkTokenFetcher,
  type EcrCredentialsOptions,
  type EcrTokenFetcher,
} from './ecr.ts';
export { isGcpRegistry } from './gcp-host.ts';
export {
  GcpCredentials,
  type GcpAccessToken,
  type GcpCredentialsOptions,
  type GcpTokenSource,
} from './gcp.ts';
export { parseAcrRegistry, type AcrRegistry, type AzureCloud } from './acr-host.ts';
export {
  AcrCredentials,
  ACR_REFRESH_TOKEN_USERNAME,
  type AcrCredentialsOptions,
  type EntraAccessToken,
  type EntraTokenSource,
} from './acr.ts';
export { ExchangeCache } from './exchange-cache.ts';
