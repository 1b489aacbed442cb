// Which registry hosts are Azure Container Registry login servers, and in which Azure cloud, read from
// the name alone: `<name>.azurecr.io` (public), `.azurecr.cn` (Azure China), `.azurecr.us` (Azure US
// Government). Pure. A regional data endpoint (`<name>.<region>.data.azurecr.io`), a host with a port
// or a look-alike suffix is not a login server: no Azure token is ever sent to it.

export type AzureCloud = 'public' | 'china' | 'usgov';

export interface AcrRegistry {
  /** The login server, lower case: the exchange's `service` and the registry tokens' audience. */
  readonly host: string;
  readonly cloud: AzureCloud;
}

const acrHost = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.azurecr\.(io|cn|us)$/;
const cloudOf: Readonly<Record<string, AzureCloud>> = { io: 'public', cn: 'china', us: 'usgov' };

/** The ACR login server a host names, or undefined when it is not one. */
export function parseAcrRegistry(host: string): AcrRegistry | undefined {
  const lower = host.toLowerCase();
  const match = acrHost.exec(lower);
  const cloud = match === null ? undefined : cloudOf[match[1] ?? ''];
  return cloud === undefined ? undefined : { host: lower, cloud };
}
