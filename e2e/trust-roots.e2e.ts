// TrustRoots against the REAL apiserver (issue #9): a TrustRoot whose root is held in a ConfigMap
// (`configMapRef`) follows that ConfigMap. `sigward webhook` runs as a host process registered as the
// cluster's webhook; a ClusterImagePolicy names the TrustRoot. The ConfigMap first holds the world's
// trusted_root.json (its Fulcio and Rekor: the signed Pod is admitted), then the public-good one (which
// does not trust the world's Fulcio: denied), then the world's again (admitted), with no edit of the
// TrustRoot's spec and no restart. The TrustRoot's `Refreshed` condition shows the refresh state (True
// with the root's version; False with the error while the last good root keeps serving), and /metrics
// the failure counter and the last-success timestamp. The webhook runs with a token of the chart's
// ServiceAccount under the chart's own RBAC: ConfigMaps are listed and watched only in the release
// namespace and those in rbac.trustRootConfigMapNamespaces; one elsewhere shows as unreadable.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe } from 'node:test';
import { PROD_ROOT_PATH } from '../test/sigstore/ext.ts';
import { renderChart, serviceAccountKubeconfig } from './world/chart.ts';
import { stepsNotingFailure } from './world/failing-steps.ts';
import { pushImage, type PushedImage } from './world/images.ts';
import { createCa, issueServingCert } from './world/pki.ts';
import { kubectlRunner, type Kubectl } from './world/kubectl.ts';
import { freePort } from './world/ports.ts';
import { startService, type Service } from './world/process.ts';
import { goTool } from './world/tools.ts';
import { cosignSignAs } from './world/host-webhook.ts';
import { startWorld, type World } from './world/world.ts';

const ns = 'apps';
const own = 'sigward-system';
const granted = 'roots-granted'; // in rbac.trustRootConfigMapNamespaces
const elsewhere = 'roots-elsewhere'; // not
const identity = `https://kubernetes.io/namespaces/${ns}/serviceaccounts/release`;
const repoRoot = path.resolve(import.meta.dirname, '..');
const sha256 = (text: string): string => `sha256:${createHash('sha256').update(text).digest('hex')}`;

describe('TrustRoots through the apiserver: a ConfigMap root is watched, refresh state in status', () => {
  let world: World;
  let webhook: Service;
  let port: number;
  let caPem: string;
  let failed = false;
  let image: PushedImage;
  let unsigned: PushedImage;
  let worldRoot: string;
  let asSigward: Kubectl;
  const publicGoodRoot = readFileSync(PROD_ROOT_PATH, 'utf8');

  const kubectl = (args: readonly string[], input?: string) =>
    world.kube.kubectl(args, input === undefined ? {} : { input });
  const must = async (args: readonly string[], input?: string) => {
    const r = await kubectl(args, input);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const apply = (manifest: object) => must(['apply', '-f', '-'], JSON.stringify(manifest));
  const configMap = (data: Record<string, string>) =>
    // `replace`, not `apply`: a removed key must go (apply would merge it back from last-applied).
    must(
      ['replace', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'sigstore-root', namespace: own },
        data,
      }),
    );
  const dryRunPod = (of: PushedImage = image) =>
    kubectl(
      ['apply', '--dry-run=server', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'web', namespace: ns },
        spec: { containers: [{ name: 'app', image: of.ref }] },
      }),
    );

  /** Polls (deadline 15 s, never a fixed sleep) until a dry-run verdict matches; returns it. */
  async function verdictUntil(
    what: string,
    done: (r: { code: number | null; stderr: string }) => boolean,
  ): Promise<{ code: number | null; stderr: string }> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const r = await dryRunPod();
      if (done(r)) return r;
      if (Date.now() > deadline) throw new Error(`never ${what}; last: ${r.code} ${r.stderr}`);
      await delay(100);
    }
  }

  /** The TrustRoot's Refreshed condition, polled until it matches. */
  async function refreshedUntil(
    what: string,
    done: (c: { status: string; reason: string; message: string }) => boolean,
    name = 'cm-root',
  ): Promise<{ status: string; reason: string; message: string }> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const out = await must([
        'get',
        'trustroot',
        name,
        '-o',
        'jsonpath={.status.conditions[?(@.type=="Refreshed")]}',
      ]);
      const c = (out.trim() === '' ? {} : JSON.parse(out)) as Record<string, string>;
      const condition = { status: c.status ?? '', reason: c.reason ?? '', message: c.message ?? '' };
      if (done(condition)) return condition;
      if (Date.now() > deadline) throw new Error(`Refreshed never ${what}; last: ${JSON.stringify(c)}`);
      await delay(100);
    }
  }

  function get(route: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      https
        .get(`https://127.0.0.1:${port}${route}`, { ca: caPem }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        })
        .on('error', reject);
    });
  }
  const metrics = async (): Promise<string> => (await get('/metrics')).body;

  before(async () => {
    try {
      await setUp();
    } catch (error) {
      failed = true;
      throw error;
    }
  });

  async function setUp(): Promise<void> {
    world = await startWorld();
    worldRoot = readFileSync(world.sigstore.trustedRootPath, 'utf8');
    await world.kube.ensureNamespace(ns);
    await world.kube.ensureNamespace(own);
    await world.kube.createServiceAccount(ns, 'release');
    await must(['apply', '-f', path.join(repoRoot, 'charts/sigward/crds')]);
    await must(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=30s']);
    for (const namespace of [granted, elsewhere]) await world.kube.ensureNamespace(namespace);
    // The chart's ServiceAccount and RBAC, exactly as rendered; the webhook runs with its token.
    const rbacKinds = ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'];
    const rendered = await renderChart(world, 'sigward', own, {
      rbac: { trustRootConfigMapNamespaces: [granted] },
    });
    await apply({
      apiVersion: 'v1',
      kind: 'List',
      items: rendered.filter((m) => rbacKinds.includes(m.kind)),
    });
    const kubeconfig = await serviceAccountKubeconfig(
      world.kube,
      world.runDir.sub('as-sigward'),
      own,
      'sigward',
    );
    asSigward = kubectlRunner(goTool('kubectl'), kubeconfig, world.runDir.sub('as-sigward-cache'));

    const host = world.registries.referrers.host;
    const tools = { crane: world.clients.crane, workDir: world.runDir.sub('images') };
    image = await pushImage(tools, host, `${ns}/roots/web`, 'v1');
    unsigned = await pushImage(tools, host, `${ns}/roots/unsigned`, 'v1');
    await cosignSignAs(world, ns, 'release', image.byDigest);

    // The ConfigMap and the TrustRoot first, so the policy never meets a missing root.
    await apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'sigstore-root', namespace: own },
      data: { 'trusted_root.json': worldRoot },
    });
    await apply({
      apiVersion: 'policy.sigward.dev/v1alpha1',
      kind: 'TrustRoot',
      metadata: { name: 'cm-root' },
      spec: { configMapRef: { name: 'sigstore-root' } },
    });
    await apply({
      apiVersion: 'policy.sigward.dev/v1alpha1',
      kind: 'ClusterImagePolicy',
      metadata: { name: 'roots' },
      spec: {
        images: [`${host}/${ns}/roots/**`],
        authorities: [
          {
            name: 'release-job',
            trustRootRef: 'cm-root',
            keyless: {
              identities: [{ issuer: world.kube.issuer, subject: identity }],
              insecureIgnoreSCT: true, // this tier runs no CT log
            },
          },
        ],
      },
    });

    const pki = world.runDir.sub('webhook-pki');
    const ca = await createCa(pki, 'webhook-ca');
    const serving = await issueServingCert(ca, pki, 'webhook', ['127.0.0.1']);
    caPem = ca.certPem;
    port = await freePort();
    webhook = await startService({
      name: 'sigward-webhook',
      command: process.execPath,
      args: [
        path.join(repoRoot, 'src/cli/main.ts'),
        'webhook',
        `--listen=127.0.0.1:${port}`,
        `--kubeconfig=${kubeconfig}`,
        `--tls-cert=${serving.certFile}`,
        `--tls-key=${serving.keyFile}`,
        `--trusted-root=${world.sigstore.trustedRootPath}`,
        `--namespace=${own}`,
        '--no-match-action=allow',
      ],
      logDir: world.runDir.logs,
      ready: async () => (await get('/readyz')).status === 200,
    });
    const caBundle = Buffer.from(caPem).toString('base64');
    await apply({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: 'sigward' },
      webhooks: [
        {
          name: 'validate.sigward.dev',
          admissionReviewVersions: ['v1'],
          sideEffects: 'NoneOnDryRun',
          timeoutSeconds: 10,
          failurePolicy: 'Fail',
          clientConfig: { url: `https://127.0.0.1:${port}/validate`, caBundle },
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
          rules: [
            {
              apiGroups: [''],
              apiVersions: ['v1'],
              operations: ['CREATE', 'UPDATE'],
              resources: ['pods'],
            },
          ],
        },
      ],
    });
    // The apiserver picks webhook configurations up through an informer: wait until one is judged.
    for (const deadline = Date.now() + 15_000; ;) {
      const r = await dryRunPod(unsigned);
      if (r.code !== 0 && r.stderr.includes('SIGNATURE_MISSING')) break;
      if (Date.now() > deadline) throw new Error(`webhook never engaged: ${r.stderr}`);
      await delay(50);
    }
  }

  after(async () => {
    await webhook?.stop();
    const kept = await world?.stop(failed ? { keepLogsAs: 'trust-roots' } : {});
    if (kept) console.error(`trust-roots e2e: logs kept in ${kept}`);
  });

  const step = stepsNotingFailure(() => (failed = true));

  step(
    'the ConfigMap holds the world root: Refreshed=True with its version, the signed Pod admitted',
    async () => {
      const refreshed = await refreshedUntil('True', (c) => c.status === 'True');
      assert.equal(refreshed.reason, 'Refreshed');
      assert.equal(
        refreshed.message,
        `root ${sha256(worldRoot)} from configmap:${own}/sigstore-root#trusted_root.json`,
      );
      const r = await dryRunPod();
      assert.equal(r.code, 0, r.stderr);
    },
  );

  step(
    'replaced with the public-good root (not the world Fulcio): denied within seconds, no spec edit',
    async (t) => {
      const generation = await must(['get', 'trustroot', 'cm-root', '-o', 'jsonpath={.metadata.generation}']);
      await configMap({ 'trusted_root.json': publicGoodRoot });
      const r = await verdictUntil('denied', (v) => v.code !== 0 && v.stderr.includes('sigward'));
      t.diagnostic(r.stderr.trim());
      assert.match(
        r.stderr.trim(),
        new RegExp(
          `admission webhook "validate\\.sigward\\.dev" denied the request: image ${image.ref.replace(/[.]/g, '\\.')} \\(digest ${image.digest}\\) in spec\\.containers\\[0\\]\\.image: policy roots, authority release-job: none of 1 signature\\(s\\) is valid: .* \\[TLOG_INVALID\\]$`,
        ),
      );
      assert.doesNotMatch(r.stderr, /TRUST_ROOT_ERROR/, 'verified against the new root, not a missing one');
      const refreshed = await refreshedUntil('the new root', (c) =>
        c.message.includes(sha256(publicGoodRoot)),
      );
      assert.equal(refreshed.status, 'True');
      assert.equal(
        await must(['get', 'trustroot', 'cm-root', '-o', 'jsonpath={.metadata.generation}']),
        generation,
        'the TrustRoot spec was not edited',
      );
    },
  );

  step('restored: admitted again', async () => {
    await configMap({ 'trusted_root.json': worldRoot });
    await verdictUntil('admitted again', (v) => v.code === 0);
    await refreshedUntil('the world root again', (c) => c.message.includes(sha256(worldRoot)));
  });

  step(
    'the key removed: Refreshed=False with the error, the last good root keeps admitting, /metrics counts it',
    async () => {
      const before = await metrics();
      const stamp = /^sigward_trust_root_last_success_timestamp_seconds\{trust_root="cm-root"\} (\S+)$/m.exec(
        before,
      );
      assert.ok(stamp, before);
      assert.ok(Number(stamp[1]) > 0);
      await configMap({ other: 'x' });
      const refreshed = await refreshedUntil('False', (c) => c.status === 'False');
      assert.equal(refreshed.reason, 'RefreshFailed');
      assert.equal(
        refreshed.message,
        `[KUBE_CONFIGMAP_KEY_MISSING] configmap ${own}/sigstore-root has no key trusted_root.json; ` +
          `still verifying with the last good root ${sha256(worldRoot)} from configmap:${own}/sigstore-root#trusted_root.json`,
      );
      const r = await dryRunPod();
      assert.equal(r.code, 0, r.stderr);
      const text = await metrics();
      assert.match(
        text,
        /^sigward_trust_root_refresh_failures_total\{trust_root="cm-root",reason="KUBE_CONFIGMAP_KEY_MISSING"\} [1-9]/m,
      );
      // The last success did not move: time() minus it grows until a refresh succeeds again.
      assert.match(
        text,
        new RegExp(
          `^sigward_trust_root_last_success_timestamp_seconds\\{trust_root="cm-root"\\} ${stamp[1]}$`,
          'm',
        ),
      );
      await configMap({ 'trusted_root.json': worldRoot });
      await refreshedUntil('True again', (c) => c.status === 'True');
    },
  );

  step(
    'a ConfigMap that does not exist: Refreshed=False, KUBE_CONFIGMAP_UNREADABLE, no root loaded',
    async () => {
      await apply({
        apiVersion: 'policy.sigward.dev/v1alpha1',
        kind: 'TrustRoot',
        metadata: { name: 'cm-missing' },
        spec: { configMapRef: { name: 'no-such-configmap' } },
      });
      const refreshed = await refreshedUntil('False', (c) => c.status === 'False', 'cm-missing');
      assert.equal(
        refreshed.message,
        `[KUBE_CONFIGMAP_UNREADABLE] configmap ${own}/no-such-configmap does not exist; ` +
          'no root is loaded: verifications against this TrustRoot fail [TRUST_ROOT_ERROR]',
      );
    },
  );

  step(
    'chart RBAC: ConfigMaps listed and watched only in the release and granted namespaces, never read elsewhere',
    async () => {
      const can = async (args: string[]) => (await asSigward(['auth', 'can-i', ...args])).stdout.trim();
      for (const namespace of [own, granted]) {
        assert.equal(await can(['list', 'configmaps', '-n', namespace]), 'yes', namespace);
        assert.equal(await can(['watch', 'configmaps', '-n', namespace]), 'yes', namespace);
        assert.equal(await can(['update', 'configmaps', '-n', namespace]), 'no', namespace);
      }
      for (const verb of ['get', 'list', 'watch'])
        assert.equal(await can([verb, 'configmaps', '-n', elsewhere]), 'no', verb);
      assert.equal(await can(['list', 'configmaps', '--all-namespaces']), 'no');

      for (const namespace of [granted, elsewhere]) {
        await apply({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'sigstore-root', namespace },
          data: { 'trusted_root.json': worldRoot },
        });
        await apply({
          apiVersion: 'policy.sigward.dev/v1alpha1',
          kind: 'TrustRoot',
          metadata: { name: `cm-${namespace}` },
          spec: { configMapRef: { name: 'sigstore-root', namespace } },
        });
      }
      const ok = await refreshedUntil('True', (c) => c.status === 'True', `cm-${granted}`);
      assert.equal(
        ok.message,
        `root ${sha256(worldRoot)} from configmap:${granted}/sigstore-root#trusted_root.json`,
      );
      const denied = await refreshedUntil('False', (c) => c.status === 'False', `cm-${elsewhere}`);
      assert.equal(
        denied.message,
        `[KUBE_CONFIGMAP_UNREADABLE] configmap ${elsewhere}/sigstore-root could not be read: HTTP 403: ` +
          `configmaps "sigstore-root" is forbidden: User "system:serviceaccount:${own}:sigward" cannot list ` +
          `resource "configmaps" in API group "" in the namespace "${elsewhere}"; ` +
          'no root is loaded: verifications against this TrustRoot fail [TRUST_ROOT_ERROR]',
      );
    },
  );

  step(
    "the chart's alert, as Helm renders it, watches the series this webhook exports, per trust root",
    async () => {
      const rendered = await renderChart(world, 'sigward', own, {
        metrics: { prometheusRule: { enabled: true } },
      });
      const rule = rendered.find((m) => m.kind === 'PrometheusRule') as unknown as {
        spec: { groups: { rules: { alert?: string; expr: string; for?: string }[] }[] };
      };
      const alert = rule.spec.groups
        .flatMap((g) => g.rules)
        .find((r) => r.alert === 'SigwardTrustRootRefreshFailing');
      assert.ok(alert, 'SigwardTrustRootRefreshFailing is rendered');
      assert.equal(
        alert.expr,
        'time() - sigward_trust_root_last_success_timestamp_seconds{job="sigward"} > 10800',
      );
      assert.equal(alert.for, '15m');
      const text = await metrics();
      for (const root of ['public-good', 'cm-root', `cm-${granted}`, `cm-${elsewhere}`])
        assert.match(
          text,
          new RegExp(`^sigward_trust_root_last_success_timestamp_seconds\\{trust_root="${root}"\\} \\d`, 'm'),
          root,
        );
    },
  );
});
