// A double of EKS's pod identity webhook (aws/amazon-eks-pod-identity-webhook, IRSA), which this world
// cannot run: for a Pod whose service account is annotated `eks.amazonaws.com/role-arn`, the same
// mutation EKS's managed webhook makes — a projected service-account token for audience
// `sts.amazonaws.com` (86400 s, the webhook's default) mounted at
// /var/run/secrets/eks.amazonaws.com/serviceaccount, and in every (init) container
// AWS_STS_REGIONAL_ENDPOINTS, AWS_DEFAULT_REGION, AWS_REGION, AWS_ROLE_ARN and
// AWS_WEB_IDENTITY_TOKEN_FILE (an env var the container already sets is left alone). The service account is read from the apiserver, as the webhook's cache
// would have it, so removing the annotation removes the identity from Pods made afterwards.
import { kubectlOk, type Kubectl } from './kubectl.ts';
import type { Container, PodSpec } from './kubelet.ts';

export const ROLE_ARN_ANNOTATION = 'eks.amazonaws.com/role-arn';
const AUDIENCE_ANNOTATION = 'eks.amazonaws.com/audience';
const EXPIRATION_ANNOTATION = 'eks.amazonaws.com/token-expiration';
export const EKS_TOKEN_DIR = '/var/run/secrets/eks.amazonaws.com/serviceaccount';
const volumeName = 'aws-iam-token';

/** The Pod spec as EKS's pod identity webhook would admit it in `namespace` of a cluster in `region`. */
export async function withEksPodIdentity(
  kubectl: Kubectl,
  namespace: string,
  spec: PodSpec,
  region: string,
): Promise<PodSpec> {
  const account = JSON.parse(
    await kubectlOk(kubectl, [
      'get',
      'serviceaccount',
      spec.serviceAccountName ?? 'default',
      `--namespace=${namespace}`,
      '-o',
      'json',
    ]),
  ) as { metadata: { annotations?: Record<string, string> } };
  const annotations = account.metadata.annotations ?? {};
  const roleArn = annotations[ROLE_ARN_ANNOTATION];
  if (roleArn === undefined) return spec;
  const injected = [
    { name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'regional' },
    { name: 'AWS_DEFAULT_REGION', value: region },
    { name: 'AWS_REGION', value: region },
    { name: 'AWS_ROLE_ARN', value: roleArn },
    { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: `${EKS_TOKEN_DIR}/token` },
  ];
  const inject = (container: Container): Container => {
    const present = new Set((container.env ?? []).map((e) => e.name));
    return {
      ...container,
      env: [...(container.env ?? []), ...injected.filter((e) => !present.has(e.name))],
      volumeMounts: [
        ...(container.volumeMounts ?? []),
        { name: volumeName, mountPath: EKS_TOKEN_DIR, readOnly: true },
      ],
    };
  };
  return {
    ...spec,
    volumes: [
      ...(spec.volumes ?? []),
      {
        name: volumeName,
        projected: {
          sources: [
            {
              serviceAccountToken: {
                audience: annotations[AUDIENCE_ANNOTATION] ?? 'sts.amazonaws.com',
                expirationSeconds: Number(annotations[EXPIRATION_ANNOTATION] ?? 86400),
                path: 'token',
              },
            },
          ],
        },
      },
    ],
    ...(spec.initContainers === undefined ? {} : { initContainers: spec.initContainers.map(inject) }),
    containers: spec.containers.map(inject),
  };
}
