// The Helm chart (charts/sigward) against a REAL kube-apiserver, with the real helm v4: `helm lint
// --strict` and `helm template` clean (no warning) with the defaults and each notable value set;
// a fresh `helm install` (Helm creates the CRDs from crds/) with a Secret made by certs/make-certs.sh
// (existingSecret); `helm template` with several value sets, asserted on and applied with
// `kubectl apply --dry-run=server` (the apiserver's own validation, no kubelet needed); `helm install`
// then `helm upgrade` keep the generated caBundle; `sigward webhook` run on the host with a token of the
// chart's ServiceAccount syncs policies, writes status and holds its Lease (the chart's RBAC is enough)
// while listing Secrets cluster-wide is forbidden (it is not more); and the chart's webhook
// configurations, pointed at that host process, deny an unmatched image in a checked namespace and
// leave kube-system alone. (Admitting a signed image through them needs a Sigstore world:
// e2e/chart-admit.e2e.ts.)
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe } from 'node:test';
import { parse, stringify } from 'yaml';
import {
  chartDir as chart,
  deploymentArgsOf as args,
  helmAgainst,
  kubectlMust,
  podImage,
  oneManifest as one,
  podManifest,
  pointWebhooksAt,
  renderChart,
  serviceAccountKubeconfig,
  startHostWebhook,
  waitForPolicyReady,
  waitForSigwardDenial,
  type HostWebhook,
  type Manifest,
} from './world/chart.ts';
import { createClients, runTool, type Clients } from './world/clients.ts';
import { startKube, type Kube } from './world/kube.ts';
import { kubectlOk, kubectlRunner, type Kubectl } from './world/kubectl.ts';
import type { Service } from './world/process.ts';
import { createRunDir, type RunDir } from './world/run-dir.ts';
import { goTool, repoRoot } from './world/tools.ts';
import { stepsNotingFailure } from './world/failing-steps.ts';

const CRDS = [
  'clusterimagepolicies.policy.sigward.dev',
  'imagepolicies.policy.sigward.dev',
  'trustroots.policy.sigward.dev',
];
const own = 'sigward-system';
const release = 'sigward';
const checked = 'apps';

type Hook = {
  name: string;
  failurePolicy: string;
  timeoutSeconds: number;
  sideEffects: string;
  matchPolicy: string;
  admissionReviewVersions: string[];
  reinvocationPolicy?: string;
  clientConfig: { caBundle?: string; url?: string; service?: { name: string; namespace: string } };
  namespaceSelector: { matchExpressions: { key: string; operator: string; values: string[] }[] };
  rules: { apiGroups: string[]; resources: string[]; operations: string[] }[];
};
type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };

// Notable value sets: linted with --strict and rendered by `helm template` (steps below assert on them).
const EXAMPLE_CA_BUNDLE = Buffer.from(
  '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
).toString('base64');
const NON_DEFAULT_VALUES = {
  replicaCount: 2,
  webhook: {
    scope: 'opt-in',
    pinTemplates: true,
    timeoutSeconds: 7,
    failurePolicy: 'Ignore',
    failureOutcome: 'allow',
    excludeNamespaces: ['cni'],
  },
  podDisruptionBudget: { maxUnavailable: 1 },
  podAntiAffinity: 'hard',
  certificates: { mode: 'existingSecret', existingSecret: { name: 'my-tls', caBundle: EXAMPLE_CA_BUNDLE } },
  networkPolicy: { enabled: true, webhookIngressFrom: [{ ipBlock: { cidr: '10.0.0.0/24' } }] },
  examplePolicies: { enabled: true },
  trustRoot: { publicGood: false },
};
const MONITORING_VALUES = {
  certificates: { mode: 'certManager' },
  metrics: {
    serviceMonitor: { enabled: true },
    prometheusRule: { enabled: true },
    grafanaDashboard: { enabled: true },
  },
};
// A CA certificate as a client CA bundle (the apiserver's serving CA here: only its shape matters).
const CLIENT_AUTH_VALUES = (caPem: string) => ({
  clientAuth: { enabled: true, caBundle: caPem, names: ['kube-apiserver', 'front-proxy-client'] },
  networkPolicy: {
    enabled: true,
    metricsIngressFrom: [
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
    ],
  },
  metrics: { serviceMonitor: { enabled: true }, prometheusRule: { enabled: true } },
});
const NOTABLE_VALUES: ReadonlyArray<readonly [string, Record<string, unknown>]> = [
  ['defaults', {}],
  ['non-default (opt-in, existing Secret, NetworkPolicy, example policies)', NON_DEFAULT_VALUES],
  ['cert-manager and monitoring (ServiceMonitor, PrometheusRule, dashboard)', MONITORING_VALUES],
  ['one replica', { replicaCount: 1 }],
  ['host network (a control plane that cannot reach Pod IPs)', { hostNetwork: true }],
  [
    'client certificates (clientAuth, NetworkPolicy with metrics peers)',
    CLIENT_AUTH_VALUES('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'),
  ],
];

describe('the sigward Helm chart against the apiserver', () => {
  let runDir: RunDir;
  let kube: Kube;
  let clients: Clients;
  let webhook: Service | undefined;
  let failed = false;

  const helm = (args: readonly string[]) => helmAgainst(kube, clients)(args);
  const must = (args: readonly string[], input?: string) => kubectlMust(kube.kubectl)(args, input);

  /** `helm template` with these values; the manifests, parsed. */
  const render = (values: Record<string, unknown> = {}): Promise<Manifest[]> =>
    renderChart({ kube, clients, runDir }, release, own, values);
  const hookOf = (manifests: Manifest[], kind: string) => (one(manifests, kind).webhooks as Hook[])[0]!;
  /** Applied by the apiserver's own validation (and admission), stored nowhere. */
  async function dryRun(manifests: Manifest[]): Promise<void> {
    const r = await kube.kubectl(['apply', '--dry-run=server', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: manifests }),
    });
    assert.equal(r.code, 0, r.stderr);
  }
  before(async () => {
    runDir = createRunDir('sigward-chart-');
    try {
      kube = await startKube(runDir);
      clients = createClients(runDir);
      await kube.ensureNamespace(own);
      await kube.ensureNamespace(checked);
    } catch (error) {
      failed = true;
      throw error;
    }
  });

  after(async () => {
    await webhook?.stop();
    await kube?.stop();
    if (failed) console.error(`chart e2e: logs kept in ${runDir.keepLogs('chart')}`);
    runDir?.remove();
  });

  const step = stepsNotingFailure(() => (failed = true));

  step(
    'helm lint --strict and helm template are clean with the defaults and every notable value set',
    async () => {
      for (const [name, values] of NOTABLE_VALUES) {
        const file = path.join(runDir.sub('lint-values'), `${name.replace(/[^a-z]+/g, '-')}.yaml`);
        writeFileSync(file, stringify(values));
        const lint = await clients.helm(['lint', '--strict', chart, `--values=${file}`], { check: false });
        assert.equal(lint.code, 0, `${name}: ${lint.stdout}${lint.stderr}`);
        assert.match(lint.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/, name);
        assert.doesNotMatch(lint.stdout, /\[(WARNING|ERROR)\]/, `${name}: ${lint.stdout}`);
        const rendered = await clients.helm(
          ['template', release, chart, `--namespace=${own}`, `--values=${file}`],
          {
            check: false,
          },
        );
        assert.equal(rendered.code, 0, `${name}: ${rendered.stderr}`);
        assert.equal(rendered.stderr, '', `${name}: helm template warns`);
        assert.match(rendered.stdout, /^kind: Deployment$/m, name);
      }
    },
  );

  step(
    'a fresh install (Helm creates the CRDs from crds/ first) with a Secret made by certs/make-certs.sh (existingSecret)',
    async () => {
      const namespace = 'sigward-byo';
      const out = runDir.sub('byo-certs');
      await runTool(
        'bash',
        [
          path.join(repoRoot, 'certs/make-certs.sh'),
          '--out',
          out,
          '--namespace',
          namespace,
          '--service',
          'byo-sigward',
        ],
        clients.env,
      );
      const san = await runTool(
        'openssl',
        ['x509', '-in', path.join(out, 'tls.crt'), '-noout', '-ext', 'subjectAltName'],
        clients.env,
      );
      for (const name of ['DNS:byo-sigward.sigward-byo.svc', 'IP Address:127.0.0.1'])
        assert.ok(san.stdout.includes(name), name);
      await kube.ensureNamespace(namespace);
      await must([
        'create',
        'secret',
        'generic',
        'byo-tls',
        '--type=kubernetes.io/tls',
        `--namespace=${namespace}`,
        `--from-file=tls.crt=${path.join(out, 'tls.crt')}`,
        `--from-file=tls.key=${path.join(out, 'tls.key')}`,
        `--from-file=ca.crt=${path.join(out, 'ca.crt')}`,
      ]);
      // Before everything else, and uninstalled after: no kubelet runs, so this release's webhook has no
      // Pod, and its Fail webhook would refuse the Deployments applied later (as it should).
      await helm([
        'install',
        'byo',
        chart,
        `--namespace=${namespace}`,
        '--set=certificates.mode=existingSecret',
        '--set=certificates.existingSecret.name=byo-tls',
      ]);
      // crds/ came with the install, then the public-good TrustRoot that needs them.
      await must(['wait', '--for=condition=Established', '--timeout=30s', ...CRDS.map((c) => `crd/${c}`)]);
      assert.equal(
        await must(['get', 'trustroot', 'public-good', '-o', 'jsonpath={.spec}']),
        '{"publicGood":{}}',
      );
      const bundle = await must([
        'get',
        'validatingwebhookconfiguration',
        'byo-sigward',
        '-o',
        'jsonpath={.webhooks[0].clientConfig.caBundle}',
      ]);
      assert.equal(bundle, readFileSync(path.join(out, 'ca.crt')).toString('base64'));
      assert.equal(
        await must([
          'get',
          'deploy',
          'byo-sigward',
          '-n',
          namespace,
          '-o',
          'jsonpath={.spec.template.spec.volumes[0].secret.secretName}',
        ]),
        'byo-tls',
      );
      // The CRDs stay (Helm never deletes crds/): the value sets below are applied against them.
      await helm(['uninstall', 'byo', `--namespace=${namespace}`]);
      assert.equal((await kube.kubectl(['get', 'trustroot', 'public-good'])).code, 1);
      await must(['get', ...CRDS.map((c) => `crd/${c}`)]);
    },
  );

  step(
    'the default values: hardened Deployment, Fail webhooks, exclusions, and the apiserver accepts them',
    async () => {
      const m = await render();
      const deployment = one(m, 'Deployment') as unknown as {
        spec: {
          replicas: number;
          template: { spec: Record<string, unknown> & { containers: Record<string, unknown>[] } };
        };
      };
      assert.equal(deployment.spec.replicas, 3);
      const pod = deployment.spec.template.spec;
      assert.ok(pod.topologySpreadConstraints && pod.affinity, 'spread and anti-affinity');
      // Counted per ReplicaSet: a rollout's old Pods do not skew where the new ones land.
      for (const spread of pod.topologySpreadConstraints as { matchLabelKeys?: string[] }[])
        assert.deepEqual(spread.matchLabelKeys, ['pod-template-hash']);
      assert.deepEqual((pod.securityContext as Record<string, unknown>).seccompProfile, {
        type: 'RuntimeDefault',
      });
      assert.equal((pod.securityContext as Record<string, unknown>).runAsNonRoot, true);
      const container = pod.containers[0]!;
      assert.deepEqual(container.securityContext, {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
      assert.equal((container.livenessProbe as { httpGet: { path: string } }).httpGet.path, '/livez');
      assert.equal((container.readinessProbe as { httpGet: { path: string } }).httpGet.path, '/readyz');
      assert.ok((container.resources as { limits?: object }).limits, 'limits');
      const volumes = pod.volumes as { name: string; emptyDir?: object }[];
      assert.deepEqual(
        volumes.filter((v) => v.emptyDir).map((v) => v.name),
        ['tuf-cache'],
        'the only writable volume is the TUF cache',
      );
      assert.ok(args(m).includes('--timeout-seconds=10'));

      const validating = hookOf(m, 'ValidatingWebhookConfiguration');
      const mutating = hookOf(m, 'MutatingWebhookConfiguration');
      for (const hook of [validating, mutating]) {
        assert.deepEqual(hook.admissionReviewVersions, ['v1']);
        assert.equal(hook.sideEffects, 'NoneOnDryRun');
        assert.equal(hook.matchPolicy, 'Equivalent');
        assert.equal(hook.failurePolicy, 'Fail');
        assert.equal(hook.timeoutSeconds, 10);
        assert.deepEqual(hook.namespaceSelector.matchExpressions, [
          { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', own] },
          { key: 'sigward.dev/exclude', operator: 'NotIn', values: ['true'] },
        ]);
        assert.ok(hook.clientConfig.caBundle, 'generated caBundle');
      }
      assert.equal(mutating.reinvocationPolicy, 'IfNeeded');
      assert.deepEqual(validating.rules.flatMap((r) => r.resources).sort(), [
        'cronjobs',
        'daemonsets',
        'deployments',
        'jobs',
        'pods',
        'pods/ephemeralcontainers',
        'replicasets',
        'replicationcontrollers',
        'statefulsets',
      ]);
      assert.deepEqual(mutating.rules.flatMap((r) => r.resources).sort(), [
        'pods',
        'pods/ephemeralcontainers',
      ]);
      const pdb = one(m, 'PodDisruptionBudget') as unknown as { spec: Record<string, unknown> };
      assert.equal(pdb.spec.minAvailable, 1);
      assert.equal('maxUnavailable' in pdb.spec, false);
      assert.equal(m.filter((x) => x.kind === 'NetworkPolicy').length, 0, 'NetworkPolicy off by default');
      assert.deepEqual(one(m, 'TrustRoot', 'public-good').spec, { publicGood: {} });

      // Least privilege, as written: no list of secrets, leases only in the Role.
      const rules = (one(m, 'ClusterRole') as unknown as { rules: Rule[] }).rules;
      const secretRules = rules.filter((r) => r.resources.includes('secrets'));
      assert.deepEqual(
        secretRules.flatMap((r) => r.verbs),
        ['get'],
      );
      assert.ok(!rules.some((r) => r.verbs.includes('*') || r.resources.includes('*')));
      assert.ok(!rules.some((r) => r.resources.includes('leases')));
      await dryRun(m);

      // The Pod the Deployment makes passes Pod Security Admission at the restricted level (enforced)…
      await must(
        ['apply', '-f', '-'],
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: { name: 'restricted', labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
        }),
      );
      const template = (deployment as unknown as { spec: { template: { metadata: object; spec: object } } })
        .spec.template;
      const asPod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { ...template.metadata, name: 'restricted-check', namespace: 'restricted' },
        spec: template.spec,
      };
      const ok = await kube.kubectl(['apply', '--dry-run=server', '-f', '-'], {
        input: JSON.stringify(asPod),
      });
      assert.equal(ok.code, 0, ok.stderr);
      assert.doesNotMatch(ok.stderr, /violate|PodSecurity/);
      // …and the check is real: the same Pod without seccomp is refused.
      const loose = structuredClone(asPod) as { spec: { securityContext: Record<string, unknown> } };
      delete loose.spec.securityContext.seccompProfile;
      const refused = await kube.kubectl(['apply', '--dry-run=server', '-f', '-'], {
        input: JSON.stringify(loose),
      });
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /violates PodSecurity "restricted/);
    },
  );

  step(
    'non-default values: opt-in, pinned templates, timeout 7 s, Ignore, maxUnavailable, existing Secret',
    async () => {
      const caBundle = EXAMPLE_CA_BUNDLE;
      const m = await render(NON_DEFAULT_VALUES);
      const a = args(m);
      for (const flag of [
        '--timeout-seconds=7',
        '--scope=opt-in',
        '--pin-templates',
        '--failure-outcome=allow',
        '--exclude-namespace=cni',
      ])
        assert.ok(a.includes(flag), `${flag} in ${a.join(' ')}`);
      const validating = hookOf(m, 'ValidatingWebhookConfiguration');
      const mutating = hookOf(m, 'MutatingWebhookConfiguration');
      assert.equal(validating.timeoutSeconds, 7);
      assert.equal(validating.failurePolicy, 'Ignore');
      assert.equal(validating.clientConfig.caBundle, caBundle);
      assert.deepEqual(validating.namespaceSelector.matchExpressions, [
        { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', own, 'cni'] },
        { key: 'sigward.dev/include', operator: 'In', values: ['true'] },
      ]);
      assert.ok(mutating.rules.flatMap((r) => r.resources).includes('deployments'), 'templates pinned');
      const pdb = one(m, 'PodDisruptionBudget') as unknown as { spec: Record<string, unknown> };
      assert.equal(pdb.spec.maxUnavailable, 1);
      assert.equal('minAvailable' in pdb.spec, false);
      assert.equal(m.filter((x) => x.kind === 'Secret').length, 0, 'an existing Secret is not rendered');
      assert.equal(m.filter((x) => x.kind === 'TrustRoot').length, 0);
      one(m, 'NetworkPolicy');
      one(m, 'ClusterImagePolicy');
      await dryRun(m);
    },
  );

  step("the Deployment's Node options: the image's by default, a value of its own, or none", async () => {
    type Env = { name: string; value?: string }[];
    const envOf = (m: Manifest[]): Env =>
      (one(m, 'Deployment') as unknown as { spec: { template: { spec: { containers: { env: Env }[] } } } })
        .spec.template.spec.containers[0]!.env;
    const nodeOptionsOf = (m: Manifest[]) => envOf(m).filter((e) => e.name === 'NODE_OPTIONS');
    const defaults = (parse(readFileSync(path.join(chart, 'values.yaml'), 'utf8')) as { nodeOptions: string })
      .nodeOptions;
    const image = /^ENV NODE_OPTIONS="([^"]*)"$/m.exec(
      readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8'),
    );
    assert.equal(defaults, image?.[1], "the chart's default is the image's");
    assert.deepEqual(nodeOptionsOf(await render()), [{ name: 'NODE_OPTIONS', value: defaults }]);
    assert.deepEqual(nodeOptionsOf(await render({ nodeOptions: '--max-old-space-size=512' })), [
      { name: 'NODE_OPTIONS', value: '--max-old-space-size=512' },
    ]);
    assert.deepEqual(
      nodeOptionsOf(await render({ nodeOptions: '' })),
      [],
      "'' sets none (the image's apply)",
    );
  });

  step("hostNetwork: the Pod in the node's network with cluster DNS; off by default", async () => {
    type Spec = { hostNetwork?: boolean; dnsPolicy?: string };
    const specOf = (m: Manifest[]): Spec =>
      (one(m, 'Deployment') as unknown as { spec: { template: { spec: Spec } } }).spec.template.spec;
    const defaults = specOf(await render());
    assert.deepEqual([defaults.hostNetwork, defaults.dnsPolicy], [undefined, undefined]);
    const m = await render({ hostNetwork: true });
    assert.deepEqual([specOf(m).hostNetwork, specOf(m).dnsPolicy], [true, 'ClusterFirstWithHostNet']);
    await dryRun(m);
  });

  step(
    'cert-manager, ServiceMonitor, PrometheusRule and dashboard render (CRDs of other projects: no apply)',
    async () => {
      const m = await render(MONITORING_VALUES);
      const certificate = one(m, 'Certificate', 'sigward') as unknown as {
        spec: { dnsNames: string[]; secretName: string };
      };
      assert.ok(certificate.spec.dnsNames.includes(`sigward.${own}.svc`));
      for (const kind of ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']) {
        const config = one(m, kind);
        assert.equal(config.metadata.annotations?.['cert-manager.io/inject-ca-from'], `${own}/sigward`);
        assert.equal((config.webhooks as Hook[])[0]!.clientConfig.caBundle, undefined);
      }
      assert.equal(m.filter((x) => x.kind === 'Secret').length, 0);
      const rules = JSON.stringify(one(m, 'PrometheusRule'));
      for (const metric of [
        'sigward_fail_open_total',
        'sigward_trust_root_last_success_timestamp_seconds',
        'sigward_admissions_total',
        'sigward_registry_request_errors_total',
      ])
        assert.ok(rules.includes(metric), metric);
      assert.ok(!rules.includes('SigwardCallersRefused'), 'no client-auth alert without clientAuth');
      const dashboard = JSON.parse(
        (one(m, 'ConfigMap', 'sigward-dashboard') as unknown as { data: Record<string, string> }).data[
          'sigward.json'
        ]!,
      ) as { panels: unknown[] };
      assert.ok(dashboard.panels.length >= 8);
      one(m, 'ServiceMonitor');
      // The rest goes through the apiserver; cert-manager's and prometheus-operator's kinds have no CRD here.
      await dryRun(m.filter((x) => !/cert-manager\.io|monitoring\.coreos\.com/.test(x.apiVersion)));
    },
  );

  step(
    'values the schema or the templates refuse fail helm, with the reason; one replica stays drainable',
    async () => {
      const bad = async (set: string[], reason: RegExp) => {
        const r = await clients.helm(['template', release, chart, ...set.flatMap((s) => ['--set', s])], {
          check: false,
        });
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, reason);
      };
      await bad(
        ['podDisruptionBudget.minAvailable=1', 'podDisruptionBudget.maxUnavailable=1'],
        /podDisruptionBudget/,
      );
      await bad(['webhook.timeoutSeconds=31'], /timeoutSeconds/);
      // A NetworkPolicy never applies to a host-network Pod: refused rather than silently void.
      await bad(
        ['hostNetwork=true', 'networkPolicy.enabled=true'],
        /networkPolicy\.enabled has no effect on a host-network Pod/,
      );
      await bad(['hostNetwork=yes'], /hostNetwork/);
      const single = one(await render({ replicaCount: 1 }), 'PodDisruptionBudget') as unknown as {
        spec: Record<string, unknown>;
      };
      assert.deepEqual(
        [single.spec.minAvailable, single.spec.maxUnavailable],
        [undefined, 1],
        'one replica stays drainable',
      );
      await bad(['webhook.failurePolicy=Maybe'], /failurePolicy/);
      await bad(['webhook.nope=1'], /nope/);
      // mallocEnv names only glibc's MALLOC_* tunables, with numbers: never an LD_PRELOAD or a path.
      await bad(['mallocEnv.LD_PRELOAD=1'], /'LD_PRELOAD' does not match pattern/);
      await bad(['mallocEnv.MALLOC_ARENA_MAX=two'], /MALLOC_ARENA_MAX/);
      await bad(['certificates.mode=existingSecret'], /existingSecret\.name/);
      await bad(['clientAuth.enabled=true'], /clientAuth\.enabled needs exactly one of clientAuth\.caBundle/);
      await bad(
        [
          'clientAuth.enabled=true',
          'clientAuth.existingSecret.name=a',
          'clientAuth.existingConfigMap.name=b',
        ],
        /exactly one of/,
      );
      await bad(
        ['clientAuth.enabled=true', 'clientAuth.caBundle=LS0tLS1CRUdJTg=='],
        /PEM text .* not base64/,
      );
      await bad(['clientAuth.names[0]='], /clientAuth\/names\/0/);
      // Never the namespace's default account: other Pods there would get sigward's rights.
      await bad(
        ['serviceAccount.create=false'],
        /serviceAccount\.name is required when serviceAccount\.create is false/,
      );
      const named = await render({ serviceAccount: { create: false, name: 'sigward-managed' } });
      assert.equal(
        (one(named, 'ClusterRoleBinding').subjects as { name: string }[])[0]?.name,
        'sigward-managed',
      );
      assert.equal(named.filter((m) => m.kind === 'ServiceAccount').length, 0, 'none created');
    },
  );

  step(
    'clientAuth: the CA in a ConfigMap mounted for --client-ca, names as --client-name, probes, metrics and NetworkPolicy on the health port',
    async () => {
      type Port = { name: string; containerPort?: number; port?: number };
      type Probe = { httpGet: { path: string; port: string; scheme: string } };
      type Container = {
        ports: Port[];
        livenessProbe: Probe;
        readinessProbe: Probe;
        volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
      };
      type PodSpec = {
        containers: Container[];
        volumes: { name: string; configMap?: object; secret?: object }[];
      };
      const podOf = (m: Manifest[]) =>
        (one(m, 'Deployment') as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;

      // Off (the default): no client CA, but the health listener, probes and Service port all the same.
      const plain = await render();
      assert.ok(args(plain).includes('--health-listen=0.0.0.0:8081'), args(plain).join(' '));
      assert.ok(!args(plain).some((a) => a.startsWith('--client-ca') || a.startsWith('--client-name')));
      assert.equal(
        plain.filter((x) => x.kind === 'ConfigMap' && String(x.metadata.name).endsWith('client-ca')).length,
        0,
      );

      const m = await render(CLIENT_AUTH_VALUES(kube.caPem));
      const a = args(m);
      for (const flag of [
        '--client-ca=/etc/sigward/client-ca/ca.crt',
        '--client-name=kube-apiserver',
        '--client-name=front-proxy-client',
        '--health-listen=0.0.0.0:8081',
      ])
        assert.ok(a.includes(flag), `${flag} in ${a.join(' ')}`);
      const configMap = one(m, 'ConfigMap', `${release}-client-ca`) as unknown as {
        data: Record<string, string>;
      };
      assert.equal(configMap.data['ca.crt']?.trim(), kube.caPem.trim());
      const pod = podOf(m);
      const container = pod.containers[0]!;
      assert.deepEqual(
        pod.volumes.find((v) => v.name === 'client-ca'),
        {
          name: 'client-ca',
          configMap: { name: `${release}-client-ca`, items: [{ key: 'ca.crt', path: 'ca.crt' }] },
        },
      );
      assert.deepEqual(
        container.volumeMounts.find((v) => v.name === 'client-ca'),
        {
          name: 'client-ca',
          mountPath: '/etc/sigward/client-ca',
          readOnly: true,
        },
      );
      assert.deepEqual(
        container.ports.map((p) => [p.name, p.containerPort]),
        [
          ['https', 8443],
          ['health', 8081],
        ],
      );
      for (const probe of [container.livenessProbe, container.readinessProbe])
        assert.deepEqual(
          [probe.httpGet.port, probe.httpGet.scheme],
          ['health', 'HTTPS'],
          'probes present no certificate',
        );
      const service = one(m, 'Service') as unknown as { spec: { ports: Port[] } };
      assert.deepEqual(
        service.spec.ports.map((p) => [p.name, p.port]),
        [
          ['https', 443],
          ['health', 8081],
        ],
      );
      const monitor = one(m, 'ServiceMonitor') as unknown as { spec: { endpoints: { port: string }[] } };
      assert.equal(monitor.spec.endpoints[0]!.port, 'health');
      const rules = JSON.stringify(one(m, 'PrometheusRule'));
      assert.ok(rules.includes('sum by (reason) (increase(sigward_callers_refused_total{job=\\"'), rules);
      const policy = one(m, 'NetworkPolicy') as unknown as {
        spec: { ingress: { ports: { port: string }[]; from?: object[] }[] };
      };
      assert.deepEqual(policy.spec.ingress, [
        { ports: [{ port: 'https', protocol: 'TCP' }] },
        {
          ports: [{ port: 'health', protocol: 'TCP' }],
          from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
        },
      ]);
      // A CA held elsewhere: the named Secret's key is mounted as ca.crt, and no ConfigMap is made.
      const fromSecret = await render({
        clientAuth: { enabled: true, existingSecret: { name: 'apiserver-client-ca', key: 'tls.crt' } },
      });
      assert.deepEqual(
        podOf(fromSecret).volumes.find((v) => v.name === 'client-ca'),
        {
          name: 'client-ca',
          secret: { secretName: 'apiserver-client-ca', items: [{ key: 'tls.crt', path: 'ca.crt' }] },
        },
      );
      assert.equal(
        fromSecret.filter((x) => x.kind === 'ConfigMap' && String(x.metadata.name).endsWith('client-ca'))
          .length,
        0,
      );
      await dryRun(m.filter((x) => !/monitoring\.coreos\.com/.test(x.apiVersion)));
    },
  );

  let caBundle = '';
  step('helm install, then helm upgrade: the generated caBundle and Secret are kept', async () => {
    await helm(['install', release, chart, `--namespace=${own}`]);
    const read = async () => ({
      caBundle: await must([
        'get',
        'validatingwebhookconfiguration',
        release,
        '-o',
        'jsonpath={.webhooks[0].clientConfig.caBundle}',
      ]),
      mutatingCa: await must([
        'get',
        'mutatingwebhookconfiguration',
        release,
        '-o',
        'jsonpath={.webhooks[0].clientConfig.caBundle}',
      ]),
      cert: await must(['get', 'secret', `${release}-tls`, '-n', own, '-o', 'jsonpath={.data.tls\\.crt}']),
    });
    const first = await read();
    assert.ok(first.caBundle.length > 100);
    assert.equal(first.mutatingCa, first.caBundle);
    const secretCa = await must([
      'get',
      'secret',
      `${release}-tls`,
      '-n',
      own,
      '-o',
      'jsonpath={.data.ca\\.crt}',
    ]);
    assert.equal(secretCa, first.caBundle, 'the caBundle is the CA of the Secret');
    await helm(['upgrade', release, chart, `--namespace=${own}`, '--set', 'replicaCount=2']);
    const second = await read();
    assert.deepEqual(second, first);
    assert.equal(await must(['get', 'deploy', release, '-n', own, '-o', 'jsonpath={.spec.replicas}']), '2');
    assert.equal(
      await must(['get', 'trustroot', 'public-good', '-o', 'jsonpath={.spec}']),
      '{"publicGood":{}}',
    );
    caBundle = first.caBundle;
  });

  step(
    'the documented CRD upgrade (README, NOTES): kubectl apply --server-side over the CRDs Helm created',
    async () => {
      // A later chart's CRDs: the same files with a changed field, applied as README "Install" says.
      const next = runDir.sub('next-crds');
      for (const file of ['clusterimagepolicies.yaml', 'imagepolicies.yaml', 'trustroots.yaml']) {
        const text = readFileSync(path.join(chart, 'crds', file), 'utf8');
        writeFileSync(
          path.join(next, file),
          text.replace(
            "description: 'enforce: a failure denies.",
            "description: 'enforce (next): a failure denies.",
          ),
        );
      }
      // Helm owns the fields it created: without --force-conflicts this fails with
      // `conflict with "helm": .spec.versions`.
      const applied = await kube.kubectl(['apply', '--server-side', '--force-conflicts', '-f', next]);
      assert.equal(applied.code, 0, `the documented upgrade command: ${applied.stderr}`);
      const description = await must([
        'get',
        'crd',
        'clusterimagepolicies.policy.sigward.dev',
        '-o',
        'jsonpath={.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.mode.description}',
      ]);
      assert.match(description, /^enforce \(next\): a failure denies\./);
    },
  );

  let asSigward: Kubectl;
  let host: HostWebhook | undefined;
  step(
    'sigward webhook on the host with the chart ServiceAccount token: syncs, writes status, leads',
    async () => {
      assert.ok(caBundle, 'needs the installed release');
      const kubeconfig = await serviceAccountKubeconfig(kube, runDir.sub('as-sigward'), own, release);
      asSigward = kubectlRunner(goTool('kubectl'), kubeconfig, runDir.sub('as-sigward-cache'));
      const whoami = await kubectlOk(asSigward, [
        'auth',
        'whoami',
        '-o',
        'jsonpath={.status.userInfo.username}',
      ]);
      assert.equal(whoami, `system:serviceaccount:${own}:${release}`);

      const deploymentArgs = args(await render());
      assert.deepEqual(deploymentArgs.slice(0, 2), ['webhook', '--listen=0.0.0.0:8443']);
      // Exactly the Deployment's arguments, with this host's address and certificate files, and a
      // kubeconfig with the ServiceAccount's token.
      host = await startHostWebhook(runDir, { name: 'sigward-as-chart-sa', deploymentArgs, kubeconfig });
      webhook = host.service;

      // Status written through /status (patch) by the Lease holder: list, watch, patch and the Lease suffice.
      await must(
        ['apply', '-f', '-'],
        stringify({
          apiVersion: 'policy.sigward.dev/v1alpha1',
          kind: 'ClusterImagePolicy',
          metadata: { name: 'chart-rbac' },
          spec: {
            images: ['registry.invalid/chart/**'],
            authorities: [
              {
                name: 'ci',
                keyless: {
                  identities: [{ issuer: 'https://issuer.invalid', subject: 'https://ci.invalid/job' }],
                },
              },
            ],
          },
        }),
      );
      const status = await waitForPolicyReady(kube.kubectl, 'chart-rbac');
      assert.equal(status, 'True', 'the status writer (chart RBAC) marked the policy Ready');
      const holder = await must([
        'get',
        'lease',
        'sigward-status-writer',
        '-n',
        own,
        '-o',
        'jsonpath={.spec.holderIdentity}',
      ]);
      assert.ok(holder.length > 0, 'the Lease is held');
      const trustRoot = await must([
        'get',
        'trustroot',
        'public-good',
        '-o',
        'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
      ]);
      assert.equal(trustRoot, 'True');
    },
  );

  step(
    '… and the ServiceAccount can do no more: no secret listing, no writes to policies or pods',
    async () => {
      assert.ok(asSigward, 'needs the previous step');
      const forbidden = async (args: string[]) => {
        const r = await asSigward(args);
        assert.notEqual(r.code, 0, `${args.join(' ')} must be forbidden`);
        assert.match(r.stderr, /forbidden/i);
      };
      await forbidden(['get', 'secrets', '--all-namespaces']);
      await forbidden(['get', 'secrets', '-n', own]);
      await forbidden(['get', 'pods', '-n', own]);
      await forbidden(['delete', 'cip', 'chart-rbac']);
      const can = async (verbArgs: string[]) =>
        (await asSigward(['auth', 'can-i', ...verbArgs])).stdout.trim();
      assert.equal(await can(['get', 'secret/any', '-n', checked]), 'yes');
      assert.equal(await can(['list', 'secrets', '-n', checked]), 'no');
      assert.equal(await can(['update', 'leases/other', '-n', own]), 'no');
      assert.equal(await can(['update', 'leases/sigward-status-writer', '-n', own]), 'yes');
      assert.equal(await can(['get', 'leases/sigward-status-writer', '-n', checked]), 'no');
      assert.equal(await can(['create', 'leases', '-n', checked]), 'no');
      assert.equal(await can(['list', 'pods', '--all-namespaces']), 'no');
    },
  );

  step(
    'the rendered webhook configurations, pointed at the host process: deny in apps, kube-system untouched',
    async () => {
      assert.ok(host, 'needs the host webhook');
      await pointWebhooksAt(kube.kubectl, release, host);
      const pod = (namespace: string, name: string) =>
        podManifest(namespace, name, 'registry.invalid/unsigned/app:v1');
      // The apiserver sees webhook configuration changes through an informer: wait for the denial.
      const denied = await waitForSigwardDenial(kube.kubectl, pod(checked, 'probe'));
      assert.match(denied, /denied the request/);
      const created = await kube.kubectl(['apply', '-f', '-'], { input: pod('kube-system', 'unsigned') });
      assert.equal(created.code, 0, created.stderr);
      const image = await podImage(must, 'kube-system', 'unsigned');
      assert.equal(image, 'registry.invalid/unsigned/app:v1', 'not pinned, not judged');
      await must(['label', 'namespace', checked, 'sigward.dev/exclude=true']);
      let admitted = false;
      for (let i = 0; i < 200 && !admitted; i++) {
        admitted =
          (await kube.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: pod(checked, 'probe') }))
            .code === 0;
        if (!admitted) await delay(100);
      }
      assert.ok(admitted, 'a namespace labelled sigward.dev/exclude=true is skipped');
      // Nothing the webhook did over all these steps was refused by the apiserver: the chart's RBAC is enough.
      assert.doesNotMatch(readFileSync(webhook!.logFile, 'utf8'), /forbidden/i);
    },
  );

  step(
    'every replica down (failurePolicy Fail): an update that leaves the spec alone still goes through, a new image does not',
    async () => {
      assert.ok(host && webhook, 'needs the host webhook, the webhooks pointed at it');
      const image = 'registry.invalid/unsigned/app:v1';
      // `apps` is excluded by the previous step: this Pod is stored unchecked.
      await must(['apply', '-f', '-'], podManifest(checked, 'kept', image));
      await must(['label', 'namespace', checked, 'sigward.dev/exclude-']);
      const denied = await waitForSigwardDenial(kube.kubectl, podManifest(checked, 'probe', image));
      assert.match(denied, /denied the request/, 'apps is checked again');
      await webhook.stop();
      webhook = undefined;
      // The webhook configurations' matchConditions: an UPDATE with the same spec is never sent.
      const relabel = await kube.kubectl(['label', 'pod', '-n', checked, 'kept', 'team=shop']);
      assert.equal(relabel.code, 0, `a label change needs no sigward: ${relabel.stderr}`);
      const retag = await kube.kubectl([
        'set',
        'image',
        '-n',
        checked,
        'pod/kept',
        'app=registry.invalid/unsigned/app:v2',
      ]);
      assert.notEqual(retag.code, 0, 'a changed image is sent, and with sigward down it is refused');
      assert.match(retag.stderr, /failed calling webhook "(mutate|validate)\.sigward\.dev"/);
    },
  );
});
