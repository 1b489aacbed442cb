// The seed flow on EKS, end to end, with no password anywhere: an ECR-shaped registry (e2e/world/aws.ts:
// Debian's docker-registry behind a double of ECR's auth that accepts only the token moto's
// GetAuthorizationToken issues), moto as STS and ECR, the chart installed with its ServiceAccount
// annotated for IRSA, `sigward webhook` on the host with the environment EKS's pod identity webhook gives
// that Pod (e2e/world/eks-pod-identity.ts, a double). A signing Job written as a user would for EKS
// (its ServiceAccount annotated `eks.amazonaws.com/role-arn`, args `[sign, …]`) is applied with kubectl;
// its Pod is made as the Job controller and the pod identity webhook would, and its container run as the
// kubelet would (e2e/world/kubelet.ts): two projected tokens bound to the Pod, audience `sigstore` (the
// Fulcio identity) and `sts.amazonaws.com` (AWS_WEB_IDENTITY_TOKEN_FILE → AssumeRoleWithWebIdentity →
// GetAuthorizationToken); the same Job for a ServiceAccount with no role fails before Fulcio, saying the
// process has no AWS identity, and attaches nothing. Then: the Pod with the signed ECR image is admitted
// without a pull secret (none exists in the cluster); an unsigned ECR image is denied SIGNATURE_MISSING
// (not REGISTRY_AUTH); a webhook whose ServiceAccount has no role denies an ECR image with a clear
// REGISTRY_AUTH; and no token or credential appears in the signer's output, the webhooks' logs, the
// denials, /metrics or Events.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe } from 'node:test';
import { parse } from 'yaml';
import { startAws, type WorldAws } from './world/aws.ts';
import {
  getFromWebhook,
  installChartWithHostWebhook,
  kubectlMust,
  podManifest,
  pointWebhooksAt,
  startChartWebhook,
  waitForPolicyReady,
  waitForSigwardDenial,
  type ChartWebhook,
  type ChartWebhookOptions,
  type Manifest,
} from './world/chart.ts';
import type { ToolResult } from './world/clients.ts';
import { ROLE_ARN_ANNOTATION, withEksPodIdentity } from './world/eks-pod-identity.ts';
import { stepsNotingFailure } from './world/failing-steps.ts';
import type { PushedImage } from './world/images.ts';
import {
  createJobPod,
  prepareContainer,
  runContainer,
  type PodSpec,
  type StoredPod,
} from './world/kubelet.ts';
import { tags } from './world/oci-http.ts';
import { startWorld, type World } from './world/world.ts';

const account = '111122223333';
const region = 'eu-west-1';
const own = 'sigward';
const release = 'sigward';
const jobs = 'ci';
const signer = 'signer';
const apps = 'apps';
const identity = `https://kubernetes.io/namespaces/${jobs}/serviceaccounts/${signer}`;

/**
 * The signing Job as a user writes it for EKS (the trust files come from a ConfigMap, as in the chart's
 * example); its ServiceAccount annotated with the IAM role (e.g. AmazonEC2ContainerRegistryPowerUser)
 * whose ECR token pushes the signature, unless `roleArn` is undefined.
 */
const signJobYaml = (job: { account: string; name: string; roleArn?: string; image: string }): string => `
apiVersion: v1
kind: ServiceAccount
metadata:
  name: ${job.account}
  namespace: ${jobs}
${job.roleArn === undefined ? '' : `  annotations:\n    ${ROLE_ARN_ANNOTATION}: ${job.roleArn}\n`}automountServiceAccountToken: false
---
apiVersion: batch/v1
kind: Job
metadata:
  name: ${job.name}
  namespace: ${jobs}
spec:
  backoffLimit: 0
  template:
    spec:
      serviceAccountName: ${job.account}
      automountServiceAccountToken: false
      restartPolicy: Never
      containers:
        - name: sign
          image: ghcr.io/sigward/sigward:0.1.0
          args:
            - sign
            - --oidc-provider=kubernetes
            - --kubernetes-token-path=/var/run/sigstore/cosign/oidc-token
            - --signing-config=/etc/sigward/trust/signing_config.json
            - --trusted-root=/etc/sigward/trust/trusted_root.json
            - ${job.image}
          volumeMounts:
            - { name: sigstore-token, mountPath: /var/run/sigstore/cosign, readOnly: true }
            - { name: sigstore-trust, mountPath: /etc/sigward/trust, readOnly: true }
            - { name: tmp, mountPath: /tmp }
      volumes:
        - name: sigstore-token
          projected:
            sources:
              - serviceAccountToken: { path: oidc-token, audience: sigstore, expirationSeconds: 600 }
        - name: sigstore-trust
          configMap: { name: sigstore-trust }
        - name: tmp
          emptyDir: {}
`;

/** The claims of a service-account JWT (its payload, not verified: the apiserver issued it here). */
function claimsOf(token: string): {
  aud: string[];
  sub: string;
  'kubernetes.io'?: { pod?: { name: string } };
} {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as ReturnType<
    typeof claimsOf
  >;
}

describe('ECR seed flow: an IRSA Job signs in ECR with sigward sign, the webhook verifies with its own role', () => {
  let world: World;
  let aws: WorldAws;
  let failed = false;
  const step = stepsNotingFailure(() => (failed = true));
  const webhooks: ChartWebhook[] = [];
  /** Every token the kubelet part issued, for the signer and for the webhooks. */
  const tokens: string[] = [];
  /** Where a secret must never show: the signer's output, denials (filled as the steps run). */
  const printed: { where: string; text: string }[] = [];
  let signed: PushedImage;
  let unsigned: PushedImage;
  let unsignable: PushedImage;
  let jobPod: StoredPod;

  const must = (args: readonly string[], input?: string) => kubectlMust(world.kube.kubectl)(args, input);
  const apply = (json: string) => world.kube.kubectl(['apply', '-f', '-'], { input: json });

  /**
   * The release as docs/cloud-install.md installs it on EKS (`cloud.aws.roleArn`: IRSA), its webhook
   * container started as EKS would: the pod identity webhook's env (if the ServiceAccount has a role),
   * then the kubelet's.
   */
  const chartWebhook = (name: string, roleArn: string): ChartWebhookOptions => ({
    release,
    own,
    name,
    values: {
      cloud: { aws: { roleArn } },
      // The policy here names the ECR registry only; the signing Job's own image gets a warning.
      webhook: { noMatchAction: 'warn' },
    },
    environment: async (deployment: Manifest) => {
      const template = (deployment['spec'] as { template: { spec: PodSpec } }).template.spec;
      const spec = await withEksPodIdentity(world.kube.kubectl, own, template, region);
      // No Deployment controller here, so no stored Pod to bind the tokens to; the TLS Secret volume is
      // left out: the host process serves its own certificate.
      const run = await prepareContainer(world, { name, namespace: own, uid: '', spec }, 'sigward', ['tls']);
      tokens.push(...run.tokens);
      return { ...run.env, ...aws.network };
    },
  });

  before(async () => {
    try {
      world = await startWorld();
      aws = await startAws(world.runDir, { account, region });
      for (const ns of [jobs, apps]) await world.kube.ensureNamespace(ns);
      await must([
        'create',
        'configmap',
        'sigstore-trust',
        `--namespace=${jobs}`,
        `--from-file=signing_config.json=${world.sigstore.signingConfigPath}`,
        `--from-file=trusted_root.json=${world.sigstore.trustedRootPath}`,
      ]);
      const started = await installChartWithHostWebhook(world, {
        ...chartWebhook('sigward-irsa', aws.roleArn('sigward-webhook')),
        point: false,
      });
      webhooks.push(started);

      const tools = { crane: world.clients.crane, workDir: world.runDir.sub('images') };
      signed = await aws.pushImage(tools, 'team/app', 'v1');
      unsigned = await aws.pushImage(tools, 'team/unsigned', 'v1');
      unsignable = await aws.pushImage(tools, 'team/no-role', 'v1');

      await must(
        ['apply', '-f', '-'],
        JSON.stringify({
          apiVersion: 'policy.sigward.dev/v1alpha1',
          kind: 'ClusterImagePolicy',
          metadata: { name: 'ecr-release' },
          spec: {
            images: [`${aws.registry}/team/**`],
            authorities: [
              {
                name: 'release-job',
                keyless: {
                  identities: [{ issuer: world.kube.issuer, subject: identity }],
                  // This tier runs no CT log: Fulcio's certificates carry no SCT.
                  insecureIgnoreSCT: true,
                },
              },
            ],
          },
        }),
      );
      assert.equal(await waitForPolicyReady(world.kube.kubectl, 'ecr-release'), 'True');
      await pointWebhooksAt(world.kube.kubectl, release, started.host);
      const denied = await waitForSigwardDenial(world.kube.kubectl, podManifest(apps, 'probe', unsigned.ref));
      assert.match(denied, /\[SIGNATURE_MISSING\]/);
    } catch (error) {
      failed = true;
      throw error;
    }
  });

  after(async () => {
    for (const webhook of webhooks) await webhook.host.service.stop();
    await aws?.stop();
    const kept = await world?.stop(failed ? { keepLogsAs: 'ecr-seed-flow' } : {});
    if (kept) console.error(`ecr-seed-flow e2e: logs kept in ${kept}`);
  });

  let signedBy: ToolResult;

  step(
    'the Job, applied with kubectl, signs its ECR image through its role: no password anywhere',
    async () => {
      const roleArn = aws.roleArn('sigward-signer');
      const applied = await world.kube.kubectl(['apply', '-f', '-'], {
        input: signJobYaml({ account: signer, name: 'sign-app', roleArn, image: signed.byDigest }),
      });
      assert.equal(applied.code, 0, applied.stderr);
      assert.equal(applied.stdout.trim(), `serviceaccount/${signer} created\njob.batch/sign-app created`);
      // The chart's webhook judged the Job itself: its own image is under no policy here.
      assert.equal(
        applied.stderr,
        'Warning: image ghcr.io/sigward/sigward:0.1.0 in spec.template.spec.containers[0].image: ' +
          'no image policy matches ghcr.io/sigward/sigward (unmatched images: warn) [NO_POLICY]\n',
      );

      jobPod = await createJobPod(world, jobs, 'sign-app', (spec) =>
        withEksPodIdentity(world.kube.kubectl, jobs, spec, region),
      );
      const container = jobPod.spec.containers[0]!;
      const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]));
      assert.deepEqual(env, {
        AWS_STS_REGIONAL_ENDPOINTS: 'regional',
        AWS_DEFAULT_REGION: region,
        AWS_REGION: region,
        AWS_ROLE_ARN: roleArn,
        AWS_WEB_IDENTITY_TOKEN_FILE: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
      });
      assert.equal(jobPod.spec['imagePullSecrets'], undefined);
      assert.ok(
        (jobPod.spec.volumes ?? []).every((v) => v['secret'] === undefined),
        'no Secret is mounted',
      );

      const run = await prepareContainer(world, jobPod, 'sign');
      tokens.push(...run.tokens);
      // Two projected tokens, both bound to the Job's Pod: Fulcio's identity and STS's web identity.
      assert.deepEqual(
        run.tokens.map((t) => [claimsOf(t).aud, claimsOf(t).sub, claimsOf(t)['kubernetes.io']?.pod?.name]),
        [
          [['sigstore'], `system:serviceaccount:${jobs}:${signer}`, jobPod.name],
          [['sts.amazonaws.com'], `system:serviceaccount:${jobs}:${signer}`, jobPod.name],
        ],
      );

      const acceptedBefore = aws.front.counts.accepted;
      signedBy = await runContainer(world, run, aws.network);
      printed.push({ where: "the signer's stdout", text: signedBy.stdout });
      printed.push({ where: "the signer's stderr", text: signedBy.stderr });
      assert.equal(signedBy.code, 0, signedBy.stderr);
      const tokenFile = run.args.find((a) => a.startsWith('--kubernetes-token-path='))!.split('=')[1];
      const sha = 'sha256:[0-9a-f]{64}';
      const progress: (string | RegExp)[] = [
        `Using the identity token from the Kubernetes service-account token file ${tokenFile}`,
        `Signing as system:serviceaccount:${jobs}:${signer} (issuer ${world.kube.issuer})`,
        'Generating ephemeral keys...',
        'Retrieving signed certificate...',
        `Certificate for subject "https://kubernetes.io/namespaces/${jobs}/serviceaccounts/${signer}" from issuer "${world.kube.issuer}" (what a policy's keyless identity names)`,
        'The certificate carries no SCT (a Fulcio without a CT log): verifiers must accept that (cosign: --insecure-ignore-sct)',
        /^tlog entry created with index: \d+$/,
        /^Timestamp fetched with time: \d{4}-\d\d-\d\dT[\d:.]+Z$/,
        `Pushing signature to: ${aws.registry}/team/app`,
        new RegExp(
          `^Attached ${sha} as a referrer of ${signed.digest} \\(no referrers API: listed in the fallback tag index\\)$`,
        ),
        'Verified the pushed signature with the trusted root',
      ];
      const lines = signedBy.stderr.trimEnd().split('\n');
      assert.equal(lines.length, progress.length, signedBy.stderr);
      progress.forEach((expected, i) =>
        typeof expected === 'string' ? assert.equal(lines[i], expected) : assert.match(lines[i]!, expected),
      );
      assert.match(
        signedBy.stdout,
        new RegExp(`^Signed ${signed.byDigest.replace(/\./g, '\\.')} \\(referrer ${sha}\\)\n$`),
      );
      assert.ok(aws.front.counts.accepted > acceptedBefore, 'the ECR registry let the signer in');
      assert.ok((await aws.issuedSecrets()).assumedRoles.includes(roleArn), 'STS assumed the Job role');
    },
  );

  /** What sigward says when the process has no AWS identity at all. */
  const noAwsIdentity = (): string =>
    `AWS ECR gave no authorization token for ${aws.registry}: CredentialsProviderError: Could not load credentials from any providers ` +
    `(this process has no AWS identity: looked for env keys, IRSA's web identity token, EKS Pod Identity, shared config and instance metadata)`;

  step(
    'a Job whose ServiceAccount has no role cannot sign in ECR: exit 1, a clear error, nothing attached',
    async () => {
      const account = 'no-role-signer';
      const applied = await world.kube.kubectl(['apply', '-f', '-'], {
        input: signJobYaml({ account, name: 'sign-no-role', image: unsignable.byDigest }),
      });
      assert.equal(applied.code, 0, applied.stderr);
      const pod = await createJobPod(world, jobs, 'sign-no-role', (spec) =>
        withEksPodIdentity(world.kube.kubectl, jobs, spec, region),
      );
      assert.equal(pod.spec.containers[0]!.env, undefined, 'no role, nothing injected');
      const run = await prepareContainer(world, pod, 'sign');
      tokens.push(...run.tokens);
      const result = await runContainer(world, run, aws.network);
      printed.push({ where: "the role-less signer's output", text: result.stdout + result.stderr });
      assert.equal(result.code, 1, result.stderr);
      // It stops at the first registry read, before asking Fulcio for a certificate.
      assert.deepEqual(result.stderr.trimEnd().split('\n').slice(1), [
        `Signing as system:serviceaccount:${jobs}:${account} (issuer ${world.kube.issuer})`,
        `sigward sign: FAILED [REGISTRY_UNAUTHORIZED]: ${aws.registry} refused access: ${noAwsIdentity()}`,
      ]);
      assert.deepEqual(await tags(aws.front.backend.url, unsignable.repository), ['v1']);
    },
  );

  step('the webhook (its own role, no pull secret) admits a Pod with the signed ECR image', async () => {
    const created = await apply(podManifest(apps, 'web', signed.ref));
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout.trim(), 'pod/web created');
    assert.equal(created.stderr, '', 'no warning');
    assert.ok(
      (await aws.issuedSecrets()).assumedRoles.includes(aws.roleArn('sigward-webhook')),
      "STS assumed the webhook's role",
    );
    // No password anywhere: no registry Secret in the cluster, none named by the Pod or the accounts.
    assert.equal(
      await must([
        'get',
        'secrets',
        '--all-namespaces',
        '--field-selector=type=kubernetes.io/dockerconfigjson',
        '-o',
        'name',
      ]),
      '',
    );
    for (const [kind, name, ns] of [
      ['pod', 'web', apps],
      ['serviceaccount', release, own],
      ['serviceaccount', signer, jobs],
    ] as const)
      assert.equal(
        await must(['get', kind, name, `--namespace=${ns}`, '-o', 'jsonpath={..imagePullSecrets}']),
        '',
      );
  });

  /** `kubectl apply` of a Pod with `image` is refused by sigward with exactly `reason` after the image. */
  async function assertDenied(name: string, image: PushedImage, reason: string): Promise<void> {
    const denied = await apply(podManifest(apps, name, image.ref));
    printed.push({ where: `the denial of Pod ${name}`, text: denied.stderr });
    assert.notEqual(denied.code, 0);
    assert.equal(
      denied.stderr.trim(),
      `Error from server (Forbidden): error when creating "STDIN": admission webhook "validate.sigward.dev" denied the request: ` +
        `image ${image.ref} ${reason}`,
    );
  }

  step('a Pod with an unsigned ECR image is denied SIGNATURE_MISSING, naming image and policy', async () => {
    await assertDenied(
      'unsigned',
      unsigned,
      `(digest ${unsigned.digest}) in spec.containers[0].image: policy ecr-release, authority release-job: ` +
        `no signatures found (looked in the referrers fallback tag (the registry has no referrers API) and the legacy .sig tag, ` +
        `in ${aws.registry}/team/unsigned); expected a signature by subject "${identity}" from issuer ` +
        `"${world.kube.issuer}" [SIGNATURE_MISSING]`,
    );
  });

  step(
    'a webhook whose ServiceAccount has no role denies an ECR image with a clear REGISTRY_AUTH',
    async () => {
      // The role taken away from the webhook's ServiceAccount (`helm upgrade` would fight the patched
      // webhook configurations here), then its webhook restarted.
      await must(['annotate', 'serviceaccount', release, `--namespace=${own}`, `${ROLE_ARN_ANNOTATION}-`]);
      const rolesBefore = (await aws.issuedSecrets()).assumedRoles.length;
      const norole = await startChartWebhook(world, chartWebhook('sigward-no-role', ''));
      webhooks.push(norole);
      await pointWebhooksAt(world.kube.kubectl, release, norole.host);
      // The signed image: only a webhook that cannot reach the registry denies it.
      const probe = await waitForSigwardDenial(world.kube.kubectl, podManifest(apps, 'no-role', signed.ref));
      assert.notEqual(probe, '', 'the webhook without a role never denied');
      await assertDenied(
        'no-role',
        signed,
        `in spec.containers[0].image: policy ecr-release: could not resolve the tag to a digest: ${aws.registry} refused access: ` +
          `${noAwsIdentity()} [REGISTRY_AUTH]`,
      );
      assert.equal((await aws.issuedSecrets()).assumedRoles.length, rolesBefore, 'STS was not asked');
    },
  );

  step('no token or credential in the output, logs, denials, /metrics or Events', async () => {
    const issued = await aws.issuedSecrets();
    const kubeconfigTokens = webhooks.map(
      (w) =>
        (parse(readFileSync(w.kubeconfig, 'utf8')) as { users: { user: { token: string } }[] }).users[0]!.user
          .token,
    );
    const secrets = [
      ...tokens.map((t) => ({ what: 'a projected service-account token', value: t })),
      ...kubeconfigTokens.map((t) => ({ what: "the webhook's API token", value: t })),
      ...issued.secrets.map((s) => ({
        what: 'an AWS credential (STS key/session token or ECR token)',
        value: s,
      })),
    ];
    // Not vacuous: the Job's two tokens, the webhook's STS token, both API tokens, two assumed roles.
    assert.ok(tokens.length >= 3 && issued.assumedRoles.length >= 2, JSON.stringify(issued.assumedRoles));
    const places = [...printed];
    for (const webhook of webhooks) {
      places.push({
        where: `${webhook.host.service.name}'s log`,
        text: readFileSync(webhook.host.service.logFile, 'utf8'),
      });
      const metrics = await getFromWebhook(webhook.host, '/metrics');
      assert.equal(metrics.status, 200);
      places.push({ where: `${webhook.host.service.name}'s /metrics`, text: metrics.body });
    }
    places.push({ where: 'Events', text: await must(['get', 'events', '--all-namespaces', '-o', 'json']) });
    for (const place of places)
      for (const secret of secrets)
        assert.ok(!place.text.includes(secret.value), `${secret.what} appears in ${place.where}`);
  });
});
