// Continuous re-check through the REAL apiserver (issue #12): `helm install` of charts/sigward with
// recheck.enabled and the upstream wgpolicyk8s.io CRDs (recheck.installPolicyReportCRDs), `sigward
// webhook` on the host with the Deployment's arguments and a token of the chart's ServiceAccount (so
// the chart's RBAC is what lets it watch Pods and write reports), holding the Lease. A Pod is admitted
// while the policy accepts its signer (no kubelet here: "running" means the Pod object exists, and its
// status.containerStatuses[].imageID is set through the status subresource as a kubelet would). Its
// namespace's PolicyReport shows it passing; a policy edit that accepts another signer makes it a `fail`
// result within seconds, with an ImageRecheckFailed Event on the Pod and
// sigward_recheck_violations{policy} at 1; reverting the edit clears it (pass, metric 0); deleting the
// Pod removes the report. Every wait polls with a deadline; none sleeps.
import assert from 'node:assert/strict';
import https from 'node:https';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe } from 'node:test';
import { installChartWithHostWebhook, kubectlMust, renderChart, waitForPolicyReady } from './world/chart.ts';
import type { HostWebhook } from './world/chart.ts';
import { stepsNotingFailure } from './world/failing-steps.ts';
import { cosignSignAs } from './world/host-webhook.ts';
import { pushImage, type PushedImage } from './world/images.ts';
import { startWorld, type World } from './world/world.ts';

const own = 'sigward-system';
const release = 'sigward';
const ns = 'reports';
const identityOf = (sa: string) => `https://kubernetes.io/namespaces/${ns}/serviceaccounts/${sa}`;
/** How long a change may take to show in a report (the re-check starts at once; this is the bound). */
const DEADLINE_MS = 20_000;

interface Result {
  policy: string;
  rule: string;
  result: string;
  source: string;
  message: string;
  resources: Array<{ kind: string; name: string; uid: string }>;
  properties: Record<string, string>;
  timestamp: { seconds: number; nanos: number };
}
interface Report {
  metadata: { labels?: Record<string, string> };
  scope: { kind: string; name: string };
  summary: Record<string, number>;
  results?: Result[];
}

describe('continuous re-check: running Pods in PolicyReports, Events and metrics', () => {
  let world: World;
  let webhook: HostWebhook | undefined;
  let failed = false;
  let image: PushedImage;
  let podUid = '';

  const must = (args: readonly string[], input?: string) => kubectlMust(world.kube.kubectl)(args, input);
  const policy = (signer: string) =>
    JSON.stringify({
      apiVersion: 'policy.sigward.dev/v1alpha1',
      kind: 'ClusterImagePolicy',
      metadata: { name: 'release-signed' },
      spec: {
        images: [`${world.registries.referrers.host}/${ns}/**`],
        authorities: [
          {
            name: 'release-job',
            keyless: {
              identities: [{ issuer: world.kube.issuer, subject: identityOf(signer) }],
              // This tier runs no CT log: Fulcio's certificates carry no SCT.
              insecureIgnoreSCT: true,
            },
          },
        ],
      },
    });

  /** The namespace's sigward report, or undefined while there is none. */
  async function report(): Promise<Report | undefined> {
    const r = await world.kube.kubectl([
      'get',
      'policyreport',
      'sigward-image-verification',
      '-n',
      ns,
      '-o',
      'json',
    ]);
    if (r.code !== 0) {
      assert.match(r.stderr, /NotFound/, r.stderr);
      return undefined;
    }
    return JSON.parse(r.stdout) as Report;
  }

  /** Polls until `done` holds (deadline DEADLINE_MS); the report then, and how long it took. */
  async function reportUntil(
    what: string,
    done: (r: Report | undefined) => boolean,
  ): Promise<{ report: Report | undefined; ms: number }> {
    const start = Date.now();
    for (;;) {
      const r = await report();
      if (done(r)) return { report: r, ms: Date.now() - start };
      if (Date.now() - start > DEADLINE_MS)
        throw new Error(`report never ${what}; last: ${JSON.stringify(r)}`);
      await delay(100);
    }
  }

  const webResult = (r: Report | undefined) => r?.results?.find((x) => x.resources[0]?.name === 'web');

  function metrics(): Promise<string> {
    return new Promise((resolve, reject) => {
      https
        .get(`https://127.0.0.1:${webhook!.port}/metrics`, { ca: webhook!.caPem }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve(body));
        })
        .on('error', reject);
    });
  }
  const violations = async (): Promise<string | undefined> =>
    /^sigward_recheck_violations\{policy="release-signed",result="fail"\} (\S+)$/m.exec(await metrics())?.[1];

  before(async () => {
    try {
      world = await startWorld();
      await world.kube.ensureNamespace(ns);
      for (const sa of ['release', 'nightly']) await world.kube.createServiceAccount(ns, sa);
      const installed = await installChartWithHostWebhook(world, {
        release,
        own,
        name: 'sigward-reports',
        // intervalSeconds 0: only changes start a round, so what the steps see is the change's doing.
        values: { recheck: { enabled: true, installPolicyReportCRDs: true, intervalSeconds: 0 } },
      });
      webhook = installed.host;
      assert.ok(installed.args.includes('--recheck'), installed.args.join(' '));
      const tools = { crane: world.clients.crane, workDir: world.runDir.sub('images') };
      image = await pushImage(tools, world.registries.referrers.host, `${ns}/api`, 'v1');
      await cosignSignAs(world, ns, 'release', image.byDigest);
      await must(['apply', '-f', '-'], policy('release'));
      assert.equal(await waitForPolicyReady(world.kube.kubectl, 'release-signed'), 'True');
    } catch (error) {
      failed = true;
      throw error;
    }
  });

  after(async () => {
    await webhook?.service.stop();
    const kept = await world?.stop(failed ? { keepLogsAs: 'policy-reports' } : {});
    if (kept) console.error(`policy-reports e2e: logs kept in ${kept}`);
  });

  const step = stepsNotingFailure(() => (failed = true));

  step(
    'the chart installs the upstream CRDs (kept on uninstall) and grants Pods and reports only with recheck',
    async () => {
      for (const crd of ['policyreports.wgpolicyk8s.io', 'clusterpolicyreports.wgpolicyk8s.io']) {
        const keep = await must([
          'get',
          'crd',
          crd,
          '-o',
          'jsonpath={.metadata.annotations.helm\\.sh/resource-policy}',
        ]);
        assert.equal(keep, 'keep', crd);
      }
      const versions = await must([
        'get',
        'crd',
        'policyreports.wgpolicyk8s.io',
        '-o',
        'jsonpath={.spec.versions[*].name}',
      ]);
      assert.equal(versions, 'v1alpha2');
      const rulesOf = async (values: Record<string, unknown>) => {
        const manifests = await renderChart(world, release, own, values);
        const role = manifests.find((m) => m.kind === 'ClusterRole');
        return JSON.stringify(role?.['rules']);
      };
      const without = await rulesOf({});
      assert.doesNotMatch(without, /"pods"|policyreports/);
      const withRecheck = await rulesOf({ recheck: { enabled: true } });
      assert.match(withRecheck, /\{"apiGroups":\[""\],"resources":\["pods"\],"verbs":\["list","watch"\]\}/);
      assert.match(
        withRecheck,
        /\{"apiGroups":\["wgpolicyk8s.io"\],"resources":\["policyreports"\],"resourceNames":\["sigward-image-verification"\],"verbs":\["get","update","delete"\]\}/,
      );
      const crds = (await renderChart(world, release, own, { recheck: { enabled: true } })).filter(
        (m) => m.kind === 'CustomResourceDefinition',
      );
      assert.deepEqual(crds, [], 'no CRD unless installPolicyReportCRDs');
    },
  );

  step('a running Pod admitted under the policy is reported passing', async () => {
    const created = await world.kube.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'web', namespace: ns, labels: { app: 'web' } },
        spec: { containers: [{ name: 'app', image: image.ref }] },
      }),
    });
    assert.equal(created.code, 0, created.stderr);
    podUid = await must(['get', 'pod', 'web', '-n', ns, '-o', 'jsonpath={.metadata.uid}']);
    // What a kubelet would write once the container runs: the digest it pulled.
    await must([
      'patch',
      'pod',
      'web',
      '-n',
      ns,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({
        status: {
          phase: 'Running',
          containerStatuses: [
            {
              name: 'app',
              image: image.ref,
              imageID: `${world.registries.referrers.host}/${ns}/api@${image.digest}`,
              ready: true,
              restartCount: 0,
              state: { running: { startedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z') } },
            },
          ],
        },
      }),
    ]);
    const { report: r } = await reportUntil('passes web', (x) => webResult(x)?.result === 'pass');
    assert.equal(r?.metadata.labels?.['app.kubernetes.io/managed-by'], 'sigward');
    assert.deepEqual(r?.scope, { apiVersion: 'v1', kind: 'Namespace', name: ns });
    assert.deepEqual(r?.summary, { pass: 1, fail: 0, warn: 0, error: 0, skip: 0 });
    const result = webResult(r)!;
    assert.equal(result.policy, 'release-signed');
    assert.equal(result.rule, 'verify-image');
    assert.equal(result.source, 'sigward');
    assert.deepEqual(result.resources, [
      { apiVersion: 'v1', kind: 'Pod', namespace: ns, name: 'web', uid: podUid },
    ]);
    assert.equal(result.properties['digest'], image.digest);
    assert.ok(result.timestamp.seconds > 0);
    assert.equal(await violations(), undefined, 'no violation series yet');
  });

  step(
    'a policy change excluding its signer makes it a reported violation within seconds, with an Event and the metric',
    async () => {
      await must(['apply', '-f', '-'], policy('nightly'));
      const { report: r, ms } = await reportUntil('fails web', (x) => webResult(x)?.result === 'fail');
      console.error(`policy-reports e2e: policy edit → report shows the violation in ${ms} ms`);
      assert.deepEqual(r?.summary, { pass: 0, fail: 1, warn: 0, error: 0, skip: 0 });
      const result = webResult(r)!;
      assert.equal(result.rule, 'release-job');
      assert.equal(result.properties['reason'], 'IDENTITY_MISMATCH');
      assert.match(
        result.message,
        new RegExp(
          // The mutating webhook pinned the Pod's image, so the digest is in the reference itself.
          `^image ${image.ref}@${image.digest} in spec\\.containers\\[0\\]\\.image: policy release-signed, authority release-job: expected subject "${identityOf('nightly')}".*found subject "${identityOf('release')}".*\\[IDENTITY_MISMATCH\\]$`,
        ),
      );
      let events = '';
      for (let i = 0; events === '' && i < 200; i++) {
        events = await must([
          'get',
          'events',
          '-n',
          ns,
          '--field-selector',
          'involvedObject.name=web,reason=ImageRecheckFailed',
          '-o',
          'jsonpath={range .items[*]}{.type}|{.involvedObject.kind}|{.involvedObject.uid}|{.message}{"\\n"}{end}',
        ]);
        if (events === '') await delay(50);
      }
      const [type, kind, uid, message] = events.trim().split('|');
      assert.deepEqual([type, kind, uid], ['Warning', 'Pod', podUid]);
      assert.match(
        message ?? '',
        /^running image no longer passes: image .* policy release-signed: .*\[IDENTITY_MISMATCH\]$/,
      );
      assert.equal(await violations(), '1');
      // The policy edit started the round (not a timer: intervalSeconds is 0).
      assert.match(await metrics(), /^sigward_recheck_rounds_total\{trigger="policy"\} [1-9]/m);
      assert.doesNotMatch(await metrics(), /^sigward_recheck_rounds_total\{trigger="periodic"\}/m);
    },
  );

  step('reverting the policy clears the violation: the report passes again and the metric is 0', async () => {
    await must(['apply', '-f', '-'], policy('release'));
    await reportUntil('passes web again', (x) => webResult(x)?.result === 'pass' && x?.summary['fail'] === 0);
    assert.equal(await violations(), '0');
  });

  step('a Pod that goes away leaves no stale result: the report is deleted', async () => {
    // Never scheduled (no kubelet here), so the apiserver deletes it at once.
    await must(['delete', 'pod', 'web', '-n', ns]);
    await reportUntil('deleted', (x) => x === undefined);
  });
});
