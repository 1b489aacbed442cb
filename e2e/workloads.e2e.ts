// Every workload kind the webhook claims, through the REAL apiserver and the chart's own webhook
// configurations: `helm install` of charts/sigward, `sigward webhook` on the host with the Deployment's
// arguments and a token of the chart's ServiceAccount (so its RBAC must allow writing Events), the
// rendered Validating and Mutating configurations pointed at it. The kinds the installed configurations
// name are checked against src/admission/sites.ts and against the cases below, so a kind added to the
// chart without a case fails here. For each kind, `kubectl apply` of an image keyless-signed (cosign v3,
// apiserver service-account token) by the policy's identity is admitted; an unsigned one is denied with
// kubectl's exact words naming the field path, and gets an ImageVerificationDenied Event that
// `kubectl get events --field-selector involvedObject.name=NAME` finds although the object does not
// exist; an image failing a warn-mode policy is admitted with kubectl's Warning line and gets an
// ImageVerificationWarning Event carrying the created object's uid. Ephemeral containers go through
// `kubectl debug` (a patch of the pods/ephemeralcontainers subresource). A dry run gets no Event, and a
// Pod with many unsigned images gets one Event whose note the apiserver accepted (at most 1024 bytes).
// This world runs kube-apiserver and etcd only: no controller-manager turns a Deployment into Pods, so
// the webhook judges the workload objects themselves.
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe } from 'node:test';
import { HANDLED_RESOURCES } from '../src/admission/sites.ts';
import {
  kubectlMust,
  pointWebhooksAt,
  podManifest,
  waitForPolicyReady,
  waitForSigwardDenial,
  installChartWithHostWebhook,
} from './world/chart.ts';
import { stepsNotingFailure } from './world/failing-steps.ts';
import { pushImage, type PushedImage } from './world/images.ts';
import type { Service } from './world/process.ts';
import { cosignSignAs } from './world/host-webhook.ts';
import { startWorld, type World } from './world/world.ts';

const own = 'sigward-system';
const release = 'sigward';
const ns = 'apps';
const signer = 'release';
const identityOf = (sa: string) => `https://kubernetes.io/namespaces/${ns}/serviceaccounts/${sa}`;

type Template = { metadata: { labels: Record<string, string> }; spec: Record<string, unknown> };

interface WorkloadCase {
  /** `group/resource`, as the webhook rules and src/admission/sites.ts name it. */
  readonly resource: string;
  readonly apiVersion: string;
  readonly kind: string;
  /** What `kubectl apply` prints before the name: `deployment.apps`. */
  readonly noun: string;
  /** The field path of the first container's image. */
  readonly field: string;
  readonly spec: (name: string, template: Template) => Record<string, unknown>;
}

const template = (name: string, image: string, restartPolicy?: string): Template => ({
  metadata: { labels: { app: name } },
  spec: {
    containers: [{ name: 'app', image }],
    ...(restartPolicy === undefined ? {} : { restartPolicy }),
  },
});
const selected = (name: string, t: Template) => ({ selector: { matchLabels: { app: name } }, template: t });
const TEMPLATE_FIELD = 'spec.template.spec.containers[0].image';

const CASES: readonly WorkloadCase[] = [
  {
    resource: '/pods',
    apiVersion: 'v1',
    kind: 'Pod',
    noun: 'pod',
    field: 'spec.containers[0].image',
    spec: (_name, t) => t.spec,
  },
  {
    resource: '/replicationcontrollers',
    apiVersion: 'v1',
    kind: 'ReplicationController',
    noun: 'replicationcontroller',
    field: TEMPLATE_FIELD,
    spec: (name, t) => ({ replicas: 1, selector: { app: name }, template: t }),
  },
  {
    resource: 'apps/deployments',
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    noun: 'deployment.apps',
    field: TEMPLATE_FIELD,
    spec: selected,
  },
  {
    resource: 'apps/replicasets',
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    noun: 'replicaset.apps',
    field: TEMPLATE_FIELD,
    spec: selected,
  },
  {
    resource: 'apps/statefulsets',
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    noun: 'statefulset.apps',
    field: TEMPLATE_FIELD,
    spec: (name, t) => ({ ...selected(name, t), serviceName: name }),
  },
  {
    resource: 'apps/daemonsets',
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    noun: 'daemonset.apps',
    field: TEMPLATE_FIELD,
    spec: selected,
  },
  {
    resource: 'batch/jobs',
    apiVersion: 'batch/v1',
    kind: 'Job',
    noun: 'job.batch',
    field: TEMPLATE_FIELD,
    spec: (_name, t) => ({ template: { ...t, spec: { ...t.spec, restartPolicy: 'Never' } } }),
  },
  {
    resource: 'batch/cronjobs',
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    noun: 'cronjob.batch',
    field: 'spec.jobTemplate.spec.template.spec.containers[0].image',
    spec: (_name, t) => ({
      schedule: '0 3 * * *',
      jobTemplate: { spec: { template: { ...t, spec: { ...t.spec, restartPolicy: 'Never' } } } },
    }),
  },
];

describe('every workload kind the webhook claims, through the chart webhooks', () => {
  let world: World;
  let webhook: Service | undefined;
  let failed = false;
  let host: string;
  const images: Record<string, PushedImage> = {};

  const kubectl = (args: readonly string[], input?: string) =>
    world.kube.kubectl(args, input === undefined ? {} : { input });
  const must = (args: readonly string[], input?: string) => kubectlMust(world.kube.kubectl)(args, input);
  const manifest = (c: WorkloadCase, name: string, image: string) =>
    JSON.stringify({
      apiVersion: c.apiVersion,
      kind: c.kind,
      metadata: { name, namespace: ns },
      spec: c.spec(name, template(name, image)),
    });
  const apply = (json: string, extra: readonly string[] = []) =>
    kubectl(['apply', ...extra, '-f', '-'], json);

  /** The events regarding this object (core/v1, as `kubectl get events` lists them), polled until one is. */
  async function eventsOf(name: string, reason: string): Promise<string[]> {
    for (let i = 0; ; i++) {
      const out = await must([
        'get',
        'events',
        '-n',
        ns,
        '--field-selector',
        `involvedObject.name=${name},reason=${reason}`,
        '-o',
        'jsonpath={range .items[*]}{.type}|{.involvedObject.kind}|{.involvedObject.uid}|{.reportingComponent}|{.message}{"\\n"}{end}',
      ]);
      const lines = out.split('\n').filter((l) => l !== '');
      if (lines.length > 0) return lines;
      if (i > 200) throw new Error(`no ${reason} event regarding ${name}`);
      await delay(50);
    }
  }

  const policy = (name: string, images: string[], extra: object = {}) =>
    JSON.stringify({
      apiVersion: 'policy.sigward.dev/v1alpha1',
      kind: 'ClusterImagePolicy',
      metadata: { name },
      spec: {
        images,
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
        ...extra,
      },
    });

  before(async () => {
    try {
      world = await startWorld();
      await world.kube.ensureNamespace(own);
      await world.kube.ensureNamespace(ns);
      await world.kube.createServiceAccount(ns, signer);
      const { host: started } = await installChartWithHostWebhook(world, {
        release,
        own,
        name: 'sigward-workloads',
        point: false,
      });
      webhook = started.service;

      host = world.registries.referrers.host;
      const tools = { crane: world.clients.crane, workDir: world.runDir.sub('images') };
      for (const name of ['enforce/signed', 'enforce/unsigned', 'warn/unsigned'])
        images[name] = await pushImage(tools, host, `${ns}/${name}`, 'v1');
      await cosignSignAs(world, ns, signer, images['enforce/signed']!.byDigest);

      await must(['apply', '-f', '-'], policy('release-signed', [`${host}/${ns}/enforce/**`]));
      await must(['apply', '-f', '-'], policy('warn-only', [`${host}/${ns}/warn/**`], { mode: 'warn' }));
      for (const name of ['release-signed', 'warn-only'])
        assert.equal(await waitForPolicyReady(world.kube.kubectl, name), 'True', name);

      await pointWebhooksAt(world.kube.kubectl, release, started);
      const denied = await waitForSigwardDenial(
        world.kube.kubectl,
        podManifest(ns, 'probe', images['enforce/unsigned']!.ref),
      );
      assert.match(denied, /SIGNATURE_MISSING/);
    } catch (error) {
      failed = true;
      throw error;
    }
  });

  after(async () => {
    await webhook?.stop();
    const kept = await world?.stop(failed ? { keepLogsAs: 'workloads' } : {});
    if (kept) console.error(`workloads e2e: logs kept in ${kept}`);
  });

  const step = stepsNotingFailure(() => (failed = true));

  const missing = (image: PushedImage) =>
    `no signatures found (looked in the referrers API and the legacy .sig tag, in ${image.ref.replace(/:v1$/, '')}); ` +
    `expected a signature by subject "${identityOf(signer)}" from issuer "${world.kube.issuer}" [SIGNATURE_MISSING]`;

  /** The apiserver keeps a warning to 256 characters: sigward cuts the explanation, keeps the code. */
  const warning = (head: string, text: string): string => {
    const code = / \[[A-Z_]+\]$/.exec(text)?.[0] ?? '';
    const full = head + text;
    if (full.length <= 256) return full;
    return `${head}${text.slice(0, 256 - head.length - code.length - 1)}…${code}`;
  };

  step('the chart claims exactly the kinds sigward handles, and each has a case here', async () => {
    const claimed = new Set<string>();
    for (const kind of ['validatingwebhookconfiguration', 'mutatingwebhookconfiguration']) {
      const config = JSON.parse(await must(['get', kind, release, '-o', 'json'])) as {
        webhooks: { rules: { apiGroups: string[]; resources: string[] }[] }[];
      };
      for (const rule of config.webhooks[0]!.rules)
        for (const group of rule.apiGroups)
          for (const resource of rule.resources) claimed.add(`${group}/${resource}`);
    }
    const handled = [...HANDLED_RESOURCES, '/pods/ephemeralcontainers'].sort();
    assert.deepEqual([...claimed].sort(), handled);
    assert.deepEqual(CASES.map((c) => c.resource).sort(), [...HANDLED_RESOURCES].sort());
  });

  for (const c of CASES) {
    const base = c.kind.toLowerCase();
    step(
      `${c.kind}: signed by the policy's identity admitted; unsigned denied naming ${c.field}`,
      async () => {
        const signed = await apply(manifest(c, `${base}-signed`, images['enforce/signed']!.ref));
        assert.equal(signed.code, 0, signed.stderr);
        assert.equal(signed.stdout.trim(), `${c.noun}/${base}-signed created`);

        const image = images['enforce/unsigned']!;
        const name = `${base}-unsigned`;
        const denied = await apply(manifest(c, name, image.ref));
        assert.notEqual(denied.code, 0);
        assert.equal(
          denied.stderr.trim(),
          `Error from server (Forbidden): error when creating "STDIN": admission webhook "validate.sigward.dev" denied the request: ` +
            `image ${image.ref} (digest ${image.digest}) in ${c.field}: policy release-signed, authority release-job: ${missing(image)}`,
        );
        assert.equal((await kubectl(['get', c.noun, name, '-n', ns])).code, 1, 'the object does not exist');
        const events = await eventsOf(name, 'ImageVerificationDenied');
        assert.deepEqual(
          events.map((e) => e.split('|').filter((_, i) => i !== 2)),
          [
            [
              'Warning',
              c.kind,
              'sigward.dev/webhook',
              `denied: image ${image.ref} in ${c.field}: policy release-signed: ${missing(image)}`,
            ],
          ],
        );
      },
    );

    step(`${c.kind}: failing a warn-mode policy is admitted with a Warning line and an Event`, async () => {
      const image = images['warn/unsigned']!;
      const name = `${base}-warned`;
      const r = await apply(manifest(c, name, image.ref));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), `${c.noun}/${name} created`);
      assert.equal(
        r.stderr.trim(),
        `Warning: ${warning(`image ${image.ref} in ${c.field}: policy warn-only (warn): `, missing(image))}`,
      );
      const uid = await must(['get', c.noun, name, '-n', ns, '-o', 'jsonpath={.metadata.uid}']);
      const events = await eventsOf(name, 'ImageVerificationWarning');
      assert.deepEqual(events, [
        `Warning|${c.kind}|${uid}|sigward.dev/webhook|warning: image ${image.ref} in ${c.field}: policy warn-only: ${missing(image)}`,
      ]);
    });
  }

  step('ephemeral containers (`kubectl debug`): signed admitted; unsigned denied with an Event', async () => {
    const signed = await kubectl([
      'debug',
      'pod/pod-signed',
      '-n',
      ns,
      `--image=${images['enforce/signed']!.ref}`,
      '-c',
      'debug-signed',
    ]);
    assert.equal(signed.code, 0, signed.stderr);
    assert.equal(
      await must([
        'get',
        'pod',
        'pod-signed',
        '-n',
        ns,
        '-o',
        'jsonpath={.spec.ephemeralContainers[*].name}',
      ]),
      'debug-signed',
    );
    const image = images['enforce/unsigned']!;
    const denied = await kubectl([
      'debug',
      'pod/pod-signed',
      '-n',
      ns,
      `--image=${image.ref}`,
      '-c',
      'debug-unsigned',
    ]);
    assert.notEqual(denied.code, 0);
    const field = 'spec.ephemeralContainers[1].image';
    assert.equal(
      denied.stderr.trim(),
      `Error from server (Forbidden): admission webhook "validate.sigward.dev" denied the request: ` +
        `image ${image.ref} (digest ${image.digest}) in ${field}: policy release-signed, authority release-job: ${missing(image)}`,
    );
    const uid = await must(['get', 'pod', 'pod-signed', '-n', ns, '-o', 'jsonpath={.metadata.uid}']);
    assert.deepEqual(await eventsOf('pod-signed', 'ImageVerificationDenied'), [
      `Warning|Pod|${uid}|sigward.dev/webhook|denied: image ${image.ref} in ${field}: policy release-signed: ${missing(image)}`,
    ]);
  });

  step('a dry run is judged but gets no Event (sideEffects: NoneOnDryRun)', async () => {
    const deployment = CASES.find((c) => c.kind === 'Deployment')!;
    const image = images['enforce/unsigned']!;
    const dry = await apply(manifest(deployment, 'dry-unsigned', image.ref), ['--dry-run=server']);
    assert.notEqual(dry.code, 0);
    assert.match(dry.stderr, /denied the request: .*\[SIGNATURE_MISSING\]$/m);
    // A real request after it: once its Event is there, the dry run's would be too (one process, in order).
    assert.notEqual((await apply(manifest(deployment, 'after-dry-unsigned', image.ref))).code, 0);
    await eventsOf('after-dry-unsigned', 'ImageVerificationDenied');
    const names = await must([
      'get',
      'events',
      '-n',
      ns,
      '--field-selector',
      'reason=ImageVerificationDenied',
      '-o',
      'jsonpath={.items[*].involvedObject.name}',
    ]);
    assert.ok(!names.split(' ').includes('dry-unsigned'), names);
  });

  step('many unsigned images: one Event, its note within the 1024 bytes the apiserver accepts', async () => {
    const image = images['enforce/unsigned']!;
    const containers = Array.from({ length: 30 }, (_, i) => ({ name: `c${i}`, image: image.ref }));
    const r = await apply(
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'many-unsigned', namespace: ns },
        spec: { containers },
      }),
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /and 20 more failure\(s\)$/m);
    const [event, ...others] = await eventsOf('many-unsigned', 'ImageVerificationDenied');
    assert.deepEqual(others, []);
    const note = event!.split('|').slice(4).join('|');
    assert.ok(Buffer.byteLength(note) <= 1024, `${Buffer.byteLength(note)} bytes`);
    assert.ok(
      note.startsWith(`denied: image ${image.ref} in spec.containers[0].image: policy release-signed: `),
      note,
    );
    assert.match(note, / \(\+\d+ more\)$/);
  });
});
