// Which registry hosts are AWS ECR private registries, and which account and region they belong to,
// read from the name alone as the kubelet's ECR provider and amazon-ecr-credential-helper do:
// `<account>.dkr.ecr[-fips].<region>.<partition suffix>`, plus the dual-stack `dkr-ecr` names. Pure.
// A host with a port, a path or any other shape is not ECR: no AWS call is ever made for it.

export interface EcrRegistry {
  /** The 12-digit AWS account id (the registryId of GetAuthorizationToken). */
  readonly account: string;
  readonly region: string;
  readonly fips: boolean;
}

// Partition DNS suffixes: aws, aws-cn, aws-us-gov (same suffix as aws), aws-iso, aws-iso-b,
// aws-iso-e, aws-iso-f, and the dual-stack `on.aws` / `on.amazonwebservices.com.cn` names.
const ecrHost =
  /^(\d{12})\.dkr[.-]ecr(-fips)?\.([a-z0-9][a-z0-9-]*)\.(?:amazonaws\.com(?:\.cn)?|on\.aws|on\.amazonwebservices\.com\.cn|c2s\.ic\.gov|sc2s\.sgov\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov)$/;

/** The account and region of an ECR registry host, or undefined when the host is not one. */
export function parseEcrRegistry(host: string): EcrRegistry | undefined {
  const match = ecrHost.exec(host.toLowerCase());
  if (match === null) return undefined;
  const [, account = '', fips, region = ''] = match;
  return { account, region, fips: fips !== undefined };
}
