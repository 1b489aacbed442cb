// `sigward webhook --policy-controller-policies` on a real kube-apiserver, as the chart's ServiceAccount
// with the chart's RBAC (`webhook.policyControllerPolicies: true`): policy-controller's
// ClusterImagePolicies (policy.sigstore.dev/v1beta1) are watched beside sigward's own, translated into
// the same snapshot the engine judges with, and their status is never written (policy-controller owns
// it), while sigward's own resources still get their Ready condition. Without the value the chart
// grants nothing on policy.sigstore.dev, and the informer says so.
//
// The CRD is a STAND-IN for policy-controller's config/300-clusterimagepolicy.yaml: the same group,
// names, scope, versions (v1alpha1 storage, v1beta1 served) and status subresource, with the schema
// reduced to preserve-unknown-fields and conversion `None` (its conversion webhook does not run here).
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe } from 'node:test';
import { stringify } from 'yaml';
import {
  ClusterPolicySource,
  EventsApi,
  loadKubeConfig,
  recordPolicyFindings,
  statusOf,
} from '../src/kube/index.ts';
import type { PolicySnapshot } from '../src/kube/index.ts';
import { startKube, type Kube } from './world/kube.ts';
import { kubectlOk } from './world/kubectl.ts';
import { createRunDir, type RunDir } from './world/run-dir.ts';
import { stepsNotingFailure } from './world/failing-steps.ts';
import { serviceAccountKubeconfig } from './world/chart.ts';
import { goTool } from './world/tools.ts';

/** Rejects after `ms`: a bound on a wait that an event ends, never the synchronisation itself. */
const timeout = async (ms: number, what: string): Promise<never> => {
  await delay(ms, undefined, { ref: false });
  throw new Error(`timed out waiting for ${what}`);
};
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const chartDir = fileURLToPath(new URL('../charts/sigward/', import.meta.url));
/** The chart's ServiceAccount and RBAC (release `t` in namespace `sigward`), rendered by helm. */
const chartRbac = (policyControllerPolicies: boolean): string =>
  execFileSync(goTool('helm'), [
    'template',
    't',
    chartDir,
    '--namespace=sigward',
    `--set=webhook.policyControllerPolicies=${policyControllerPolicies}`,
    '--show-only=templates/serviceaccount.yaml',
    '--show-only=templates/rbac.yaml',
  ]).toString();

const crdDir = fileURLToPath(new URL('../charts/sigward/crds/', import.meta.url));

const version = (name: string, storage: boolean) => ({
  name,
  served: true,
  storage,
  subresources: { status: {} },
  schema: {
    openAPIV3Schema: {
      type: 'object',
      properties: {
        spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      },
    },
  },
});
const POLICY_CONTROLLER_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'clusterimagepolicies.policy.sigstore.dev' },
  spec: {
    group: 'policy.sigstore.dev',
    names: {
      kind: 'ClusterImagePolicy',
      plural: 'clusterimagepolicies',
      singular: 'clusterimagepolicy',
      shortNames: ['cip'],
    },
    scope: 'Cluster',
    conversion: { strategy: 'None' },
    versions: [version('v1alpha1', true), version('v1beta1', false)],
  },
};

const pcPolicy = (name: string, authority: Record<string, unknown>) => ({
  apiVersion: 'policy.sigstore.dev/v1beta1',
  kind: 'ClusterImagePolicy',
  metadata: { name },
  spec: { images: [{ glob: 'ghcr.io/kubewarden/**' }], authorities: [authority] },
});
const keyless = {
  keyless: {
    url: 'https://fulcio.sigstore.dev',
    identities: [
      {
        issuer: 'https://token.actions.githubusercontent.com',
        subjectRegExp: '^https://github\\.com/kubewarden/.*$',
      },
    ],
  },
};

describe('policy-controller ClusterImagePolicies watched as-is', () => {
  let runDir: RunDir;
  let kube: Kube;
  let source: ClusterPolicySource;
  let chartKubeconfig: string;
  let failed = false;
  const statusWrites: string[] = [];
  const waiters: Array<() => void> = [];
  const check = stepsNotingFailure(() => (failed = true));
  const apply = (resource: unknown) =>
    kubectlOk(kube.kubectl, ['apply', '-f', '-'], { input: stringify(resource) });

  /** Resolves when the source's snapshot satisfies `ok` (re-checked on every change); fails after 30 s. */
  const until = async (ok: (s: PolicySnapshot) => boolean, what: string): Promise<PolicySnapshot> => {
    const deadline = AbortSignal.timeout(30_000);
    while (!ok(source.current())) {
      if (deadline.aborted) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        deadline.addEventListener('abort', () => resolve(), { once: true });
      });
    }
    return source.current();
  };

  before(async () => {
    runDir = createRunDir('sigward-pc-source-');
    try {
      kube = await startKube(runDir);
      await kubectlOk(kube.kubectl, ['apply', '-f', crdDir]);
      await apply(POLICY_CONTROLLER_CRD);
      await kubectlOk(kube.kubectl, [
        'wait',
        '--for=condition=Established',
        '--timeout=60s',
        'crd/clusterimagepolicies.policy.sigstore.dev',
        'crd/clusterimagepolicies.policy.sigward.dev',
      ]);
      await kube.ensureNamespace('sigward');
      await kubectlOk(kube.kubectl, ['apply', '-f', '-'], { input: chartRbac(true) });
      chartKubeconfig = await serviceAccountKubeconfig(kube, runDir.sub('chart-sa'), 'sigward', 't-sigward');
      source = new ClusterPolicySource(loadKubeConfig(chartKubeconfig), {
        policyControllerPolicies: true,
        events: {
          changed: () => waiters.splice(0).forEach((w) => w()),
          synced: () => waiters.splice(0).forEach((w) => w()),
          // Every status write attempted, written or failed: none may be for policy-controller's.
          statusWritten: (r) => {
            statusWrites.push(`${r.apiGroup ?? 'policy.sigward.dev'}/${r.name}`);
            waiters.splice(0).forEach((w) => w());
          },
          statusFailed: (r) => {
            statusWrites.push(`${r.apiGroup ?? 'policy.sigward.dev'}/${r.name} (failed)`);
            waiters.splice(0).forEach((w) => w());
          },
        },
      });
      await source.start();
    } catch (error) {
      failed = true;
      throw error;
    }
  });

  after(async () => {
    await source?.stop();
    await kube?.stop();
    if (failed) console.error(`policy-controller source e2e: logs kept in ${runDir.keepLogs('pc-source')}`);
    runDir.remove();
  });

  check('a v1beta1 ClusterImagePolicy joins the snapshot, translated and valid', async () => {
    await apply(pcPolicy('kubewarden', keyless));
    const snapshot = await until((s) => s.policies.some((p) => p.name === 'kubewarden'), 'the policy');
    const policy = snapshot.policies.find((p) => p.name === 'kubewarden')!;
    assert.equal(policy.valid, true, JSON.stringify(policy.errors));
    assert.equal(policy.displayName, 'kubewarden (policy.sigstore.dev)');
    assert.equal(policy.authorities[0]?.kind, 'keyless');
    await until(() => source.synced, 'every kind listed');
  });

  check('an edit that sigward cannot honour makes it invalid at once, naming the field', async () => {
    await apply(
      pcPolicy('kubewarden', {
        ...keyless,
        attestations: [
          { name: 'sbom', predicateType: 'spdxjson', policy: { type: 'cue', data: 'predicateType: "x"' } },
        ],
      }),
    );
    const snapshot = await until(
      (s) => s.policies.some((p) => p.name === 'kubewarden' && !p.valid),
      'the invalid policy',
    );
    const resource = snapshot.resources.find((r) => r.name === 'kubewarden')!;
    assert.equal(resource.apiGroup, 'policy.sigstore.dev');
    assert.deepEqual(
      resource.errors.map((e) => e.field),
      ['spec.authorities[0].attestations[0].policy'],
    );
  });

  check(
    'its findings become one Event regarding it (as the chart account), written once however often',
    async () => {
      const resource = source.current().resources.find((r) => r.name === 'kubewarden')!;
      const events = new EventsApi(loadKubeConfig(chartKubeconfig));
      const finding = {
        apiVersion: 'policy.sigstore.dev/v1beta1',
        kind: resource.kind,
        name: resource.name,
        ...(resource.uid === undefined ? {} : { uid: resource.uid }),
        generation: resource.generation,
        errors: resource.errors,
        warnings: resource.warnings ?? [],
      };
      // Twice, as two replicas (or a restart) would: one Event.
      assert.equal(await recordPolicyFindings(events, finding, { instance: 'replica-a' }), true);
      assert.equal(await recordPolicyFindings(events, finding, { instance: 'replica-b' }), true);
      const listed = JSON.parse(
        await kubectlOk(kube.kubectl, [
          'get',
          'events.events.k8s.io',
          '-n',
          'default',
          '--field-selector=regarding.name=kubewarden',
          '-o',
          'json',
        ]),
      ) as { items: { reason: string; note: string; regarding: { kind: string; uid?: string } }[] };
      assert.equal(listed.items.length, 1, JSON.stringify(listed.items));
      const [event] = listed.items;
      assert.equal(event?.reason, 'PolicyNotHonoured');
      assert.equal(event?.regarding.uid, resource.uid);
      assert.match(
        event?.note ?? '',
        /^not honoured, its images fail with POLICY_INVALID: spec\.authorities\[0\]\.attestations\[0\]\.policy: /,
      );
    },
  );

  check("its status is never written, while sigward's own policy gets Ready", async () => {
    await apply({
      apiVersion: 'policy.sigward.dev/v1alpha1',
      kind: 'ClusterImagePolicy',
      metadata: { name: 'own' },
      spec: {
        images: ['ghcr.io/o/**'],
        authorities: [
          {
            name: 'a',
            ...keyless,
            keyless: {
              identities: keyless.keyless.identities.map((i) => ({
                issuer: i.issuer,
                subjectRegExp: 'https://github\\.com/o/.*',
              })),
            },
          },
        ],
      },
    });
    await until(() => statusWrites.includes('policy.sigward.dev/own'), "sigward's status write");
    assert.ok(!statusWrites.some((w) => w.startsWith('policy.sigstore.dev/')), statusWrites.join(', '));
    const status = await kubectlOk(kube.kubectl, [
      'get',
      'clusterimagepolicies.v1beta1.policy.sigstore.dev',
      'kubewarden',
      '-o',
      'jsonpath={.status}',
    ]);
    assert.equal(status, '');
  });

  check(
    'without webhook.policyControllerPolicies the chart grants nothing there: the informer is refused',
    async () => {
      await kubectlOk(kube.kubectl, ['apply', '-f', '-'], { input: chartRbac(false) });
      const refused = new Promise<string>((resolve) => {
        const other = new ClusterPolicySource(loadKubeConfig(chartKubeconfig), {
          policyControllerPolicies: true,
          backoff: { initialMs: 60_000, maxMs: 60_000 },
          events: {
            informerFailed: (kind, error) => {
              void other.stop();
              resolve(`${kind}: ${String(statusOf(error) ?? error)}`);
            },
          },
        });
        void other.start();
      });
      assert.match(await refused, /^ClusterImagePolicy\.policy\.sigstore\.dev: 403/);
      await kubectlOk(kube.kubectl, ['apply', '-f', '-'], { input: chartRbac(true) });
    },
  );

  check(
    '`sigward webhook --policy-controller-policies` as the chart account: logs the findings and writes the Event',
    async () => {
      await apply(
        pcPolicy('broken', { ...keyless, key: { kms: 'awskms:///arn:aws:kms:eu-west-1:1:key/k' } }),
      );
      // The Event is awaited with a watch (event-driven), started before the webhook.
      const watcher = spawn(
        goTool('kubectl'),
        [
          `--kubeconfig=${kube.kubeconfig}`,
          'get',
          'events.events.k8s.io',
          '-n',
          'default',
          '--field-selector=regarding.name=broken',
          '--watch',
          '-o',
          'jsonpath={.reason}{"\\n"}',
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const eventReason = new Promise<string>((resolve) => {
        let text = '';
        watcher.stdout.on('data', (c: Buffer) => {
          text += c.toString();
          if (text.includes('\n')) resolve(text.split('\n')[0]!);
        });
      });
      const webhook = spawn(
        join(REPO_ROOT, 'bin/sigward'),
        [
          'webhook',
          '--listen=127.0.0.1:0',
          `--kubeconfig=${chartKubeconfig}`,
          '--namespace=sigward',
          '--policy-controller-policies',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      try {
        const logged = new Promise<{ field?: string; problem?: string }>((resolve, reject) => {
          let out = '';
          webhook.stdout.on('data', (c: Buffer) => {
            out += c.toString();
            for (const line of out.split('\n').slice(0, -1)) {
              const record = JSON.parse(line) as {
                resource?: string;
                level: number;
                field?: string;
                problem?: string;
              };
              if (record.resource === 'ClusterImagePolicy.policy.sigstore.dev/broken' && record.level === 50)
                resolve(record);
            }
          });
          webhook.once('exit', (code) => reject(new Error(`webhook exited ${code}: ${out}`)));
        });
        const record = await Promise.race([logged, timeout(60_000, 'the findings log')]);
        assert.equal(record.field, 'spec.authorities[0]');
        assert.equal(await Promise.race([eventReason, timeout(60_000, 'the Event')]), 'PolicyNotHonoured');
      } finally {
        webhook.kill('SIGTERM');
        watcher.kill('SIGTERM');
      }
    },
  );

  check('deleting it removes it from the snapshot', async () => {
    await kubectlOk(kube.kubectl, [
      'delete',
      'clusterimagepolicies.v1beta1.policy.sigstore.dev',
      'kubewarden',
    ]);
    await until((s) => !s.policies.some((p) => p.name === 'kubewarden'), 'the deletion');
  });
});
