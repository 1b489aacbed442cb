// `sigward webhook` against the REAL apiserver: the webhook runs as a host process, registered as a
// Validating and a Mutating webhook at https://127.0.0.1:<port>/validate|/mutate with our CA; cosign v3
// signs an image with an apiserver service-account token; `kubectl apply` of Pods and Deployments is
// admitted (Pod pinned to the digest) or denied with the exact words kubectl prints. Policies are real
// ClusterImagePolicy resources: edits take effect without a restart (the test waits on the status's
// observedGeneration), warn shows kubectl's Warning line, audit admits and records an Event, an invalid
// regexp shows in status, and a registry that is down gives the configured outcome within the deadline.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe } from 'node:test';
import { runTool, writeSecretFile } from './world/clients.ts';
import { pushImage, type PushedImage } from './world/images.ts';
import { createCa, issueServingCert } from './world/pki.ts';
import { startService, type Service } from './world/process.ts';
import { freePort } from './world/ports.ts';
import { startOlareg } from './world/registry.ts';
import { cosignSignAs } from './world/host-webhook.ts';
import { podImage } from './world/chart.ts';
import { startWorld, type World } from './world/world.ts';
import { stepsNotingFailure } from './world/failing-steps.ts';

const ns = 'apps';
const own = 'sigward-system';
const identityOf = (sa: string) => `https://kubernetes.io/namespaces/${ns}/serviceaccounts/${sa}`;
const repoRoot = path.resolve(import.meta.dirname, '..');

describe('sigward webhook against the apiserver', () => {
  let world: World;
  let webhook: Service;
  let port: number;
  let caPem: string;
  let failed = false;
  let host: string;
  const images: Record<string, PushedImage> = {};

  const kubectl = (args: readonly string[], input?: string) =>
    world.kube.kubectl(args, input === undefined ? {} : { input });
  const apply = (manifest: object) => kubectl(['apply', '-f', '-'], JSON.stringify(manifest));
  const must = async (args: readonly string[], input?: string) => {
    const r = await kubectl(args, input);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  const pod = (name: string, image: string) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns },
    spec: { containers: [{ name: 'app', image }] },
  });
  const policy = (name: string, images: string[], extra: object, identity: object = {}) => ({
    apiVersion: 'policy.sigward.dev/v1alpha1',
    kind: 'ClusterImagePolicy',
    metadata: { name },
    spec: {
      images,
      authorities: [
        {
          name: 'release-job',
          keyless: {
            identities: [{ issuer: world.kube.issuer, subject: identityOf('release'), ...identity }],
            // This tier runs no CT log: Fulcio's certificates carry no SCT.
            insecureIgnoreSCT: true,
          },
        },
      ],
      ...extra,
    },
  });

  /** Waits until the webhook's leader has written status for this generation (never a fixed sleep). */
  async function observed(
    name: string,
    kind = 'cip',
    namespace?: string,
  ): Promise<{ ready: string; message: string }> {
    const where = namespace === undefined ? [] : ['-n', namespace];
    const generation = (
      await must(['get', kind, name, ...where, '-o', 'jsonpath={.metadata.generation}'])
    ).trim();
    for (let i = 0; i < 200; i++) {
      const out = await must([
        'get',
        kind,
        name,
        ...where,
        '-o',
        'jsonpath={.status.observedGeneration} {.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].message}',
      ]);
      const [seen, ready = '', ...message] = out.split(' ');
      if (seen === generation) return { ready, message: message.join(' ') };
      await delay(50);
    }
    throw new Error(`${kind} ${name}: status never observed generation ${generation}`);
  }

  /** The same keyless flow through sigward's own signer (issue #5): a Job's token, `sigward sign`. */
  async function sigwardSign(image: PushedImage, sa: string): Promise<void> {
    const token = await world.kube.createToken(ns, sa, { audience: 'sigstore' });
    const tokenFile = writeSecretFile(
      world.runDir.sub('tokens'),
      `sigward-${sa}-${image.digest.slice(7, 19)}`,
      token,
    );
    await runTool(
      process.execPath,
      [
        path.join(repoRoot, 'src/cli/main.ts'),
        'sign',
        '--oidc-provider=kubernetes',
        `--kubernetes-token-path=${tokenFile}`,
        `--signing-config=${world.sigstore.signingConfigPath}`,
        `--trusted-root=${world.sigstore.trustedRootPath}`,
        image.ref,
      ],
      world.clients.env,
      { cwd: repoRoot, timeoutMs: 120_000 },
    );
  }

  function get(url: string): Promise<number> {
    return new Promise((resolve, reject) => {
      https
        .get(url, { ca: caPem }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject);
    });
  }

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
    await world.kube.ensureNamespace(ns);
    await world.kube.ensureNamespace(own);
    for (const sa of ['release', 'intruder']) await world.kube.createServiceAccount(ns, sa);
    for (const file of readdirSync(path.join(repoRoot, 'charts/sigward/crds')))
      await must(['apply', '-f', path.join(repoRoot, 'charts/sigward/crds', file)]);
    await must(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=30s']);

    const registry = world.registries.referrers;
    host = registry.host;
    const tools = { crane: world.clients.crane, workDir: world.runDir.sub('images') };
    for (const name of [
      'enforce/web',
      'enforce/other',
      'enforce/unsigned',
      'enforce/by-sigward',
      'enforce/by-sigward-other',
      'warn/web',
      'audit/web',
    ])
      images[name] = await pushImage(tools, host, `${ns}/${name}`, 'v1');
    await cosignSignAs(world, ns, 'release', images['enforce/web']!.byDigest);
    await cosignSignAs(world, ns, 'intruder', images['enforce/other']!.byDigest);
    await sigwardSign(images['enforce/by-sigward']!, 'release');
    await sigwardSign(images['enforce/by-sigward-other']!, 'intruder');

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
        `--kubeconfig=${world.kube.kubeconfig}`,
        `--tls-cert=${serving.certFile}`,
        `--tls-key=${serving.keyFile}`,
        `--trusted-root=${world.sigstore.trustedRootPath}`,
        '--timeout-seconds=10',
        `--namespace=${own}`,
        '--no-match-action=allow',
      ],
      logDir: world.runDir.logs,
      ready: async () => (await get(`https://127.0.0.1:${port}/readyz`)) === 200,
      keepStdout: true,
    });

    const caBundle = Buffer.from(caPem).toString('base64');
    const hook = (name: string, route: string) => ({
      name,
      admissionReviewVersions: ['v1'],
      sideEffects: 'NoneOnDryRun',
      timeoutSeconds: 10,
      failurePolicy: 'Fail',
      clientConfig: { url: `https://127.0.0.1:${port}/${route}`, caBundle },
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
      rules: [
        { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods'] },
        {
          apiGroups: ['apps'],
          apiVersions: ['v1'],
          operations: ['CREATE', 'UPDATE'],
          resources: ['deployments'],
        },
      ],
    });
    await must(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          {
            apiVersion: 'admissionregistration.k8s.io/v1',
            kind: 'MutatingWebhookConfiguration',
            metadata: { name: 'sigward' },
            webhooks: [{ ...hook('mutate.sigward.dev', 'mutate'), reinvocationPolicy: 'IfNeeded' }],
          },
          {
            apiVersion: 'admissionregistration.k8s.io/v1',
            kind: 'ValidatingWebhookConfiguration',
            metadata: { name: 'sigward' },
            webhooks: [hook('validate.sigward.dev', 'validate')],
          },
        ],
      }),
    );
    await must(
      ['apply', '-f', '-'],
      JSON.stringify(policy('release-signed', [`${host}/${ns}/enforce/**`], {})),
    );
    await observed('release-signed');
    // The apiserver picks webhook configurations up through an informer: wait until a dry run is judged.
    for (let i = 0; ; i++) {
      const r = await kubectl(
        ['apply', '--dry-run=server', '-f', '-'],
        JSON.stringify(pod('probe', images['enforce/unsigned']!.ref)),
      );
      if (r.code !== 0 && r.stderr.includes('sigward')) break;
      if (i > 200) throw new Error(`webhook never engaged: ${r.stderr}`);
      await delay(50);
    }
  }

  after(async () => {
    await webhook?.stop();
    const kept = await world?.stop(failed ? { keepLogsAs: 'webhook' } : {});
    if (kept) console.error(`webhook e2e: logs kept in ${kept}`);
  });

  const step = stepsNotingFailure(() => (failed = true));
  const metricsText = () =>
    new Promise<string>((resolve, reject) => {
      https
        .get(`https://127.0.0.1:${port}/metrics`, { ca: caPem }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(Buffer.concat(chunks).toString()));
        })
        .on('error', reject);
    });

  step('a Pod signed by the named identity is admitted and pinned to the verified digest', async () => {
    const image = images['enforce/web']!;
    const r = await apply(pod('web', image.ref));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'pod/web created');
    const pinned = await podImage(must, ns, 'web');
    assert.equal(pinned, `${image.ref}@${image.digest}`);
  });

  step('a Deployment with that image is admitted (its template is left as written)', async () => {
    const image = images['enforce/web']!;
    const r = await apply({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: ns },
      spec: {
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'app', image: image.ref }] },
        },
      },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'deployment.apps/web created');
  });

  step('unsigned: denied, and kubectl says exactly why', async () => {
    const image = images['enforce/unsigned']!;
    const r = await apply(pod('unsigned', image.ref));
    assert.notEqual(r.code, 0);
    assert.equal(
      r.stderr.trim(),
      `Error from server (Forbidden): error when creating "STDIN": admission webhook "validate.sigward.dev" denied the request: ` +
        `image ${image.ref} (digest ${image.digest}) in spec.containers[0].image: policy release-signed, authority release-job: ` +
        `no signatures found (looked in the referrers API and the legacy .sig tag, in ${host}/${ns}/enforce/unsigned); ` +
        `expected a signature by subject "${identityOf('release')}" from issuer "${world.kube.issuer}" [SIGNATURE_MISSING]`,
    );
  });

  step('signed by another service account: denied with expected and found identity', async () => {
    const image = images['enforce/other']!;
    const r = await apply(pod('other', image.ref));
    assert.notEqual(r.code, 0);
    const issuer = world.kube.issuer;
    assert.equal(
      r.stderr.trim(),
      `Error from server (Forbidden): error when creating "STDIN": admission webhook "validate.sigward.dev" denied the request: ` +
        `image ${image.ref} (digest ${image.digest}) in spec.containers[0].image: policy release-signed, authority release-job: ` +
        `expected subject "${identityOf('release')}" from issuer "${issuer}", found subject "${identityOf('intruder')}" from issuer "${issuer}" [IDENTITY_MISMATCH]`,
    );
  });

  step(
    'signed by `sigward sign` with the named identity: admitted; with another identity: denied',
    async () => {
      const signed = images['enforce/by-sigward']!;
      const admitted = await apply(pod('by-sigward', signed.ref));
      assert.equal(admitted.code, 0, admitted.stderr);
      const pinned = await podImage(must, ns, 'by-sigward');
      assert.equal(pinned, `${signed.ref}@${signed.digest}`);

      const other = images['enforce/by-sigward-other']!;
      const denied = await apply(pod('by-sigward-other', other.ref));
      assert.notEqual(denied.code, 0);
      const issuer = world.kube.issuer;
      assert.ok(
        denied.stderr.includes(
          `expected subject "${identityOf('release')}" from issuer "${issuer}", found subject "${identityOf('intruder')}" from issuer "${issuer}" [IDENTITY_MISMATCH]`,
        ),
        denied.stderr,
      );
    },
  );

  step('a policy edit (another issuer) changes the next decision without a restart', async () => {
    await must(
      ['apply', '-f', '-'],
      JSON.stringify(
        policy('release-signed', [`${host}/${ns}/enforce/**`], {}, { issuer: 'https://issuer.example.com' }),
      ),
    );
    await observed('release-signed');
    const image = images['enforce/web']!;
    const r = await apply(pod('web-2', image.ref));
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /expected subject "[^"]+" from issuer "https:\/\/issuer\.example\.com", found subject "[^"]+" from issuer "[^"]+" \[ISSUER_MISMATCH\]$/m,
    );
    await must(
      ['apply', '-f', '-'],
      JSON.stringify(policy('release-signed', [`${host}/${ns}/enforce/**`], {})),
    );
    await observed('release-signed');
    const again = await apply(pod('web-3', image.ref));
    assert.equal(again.code, 0, again.stderr);
  });

  step("warn mode: admitted, with kubectl's Warning line", async () => {
    await must(
      ['apply', '-f', '-'],
      JSON.stringify(policy('warn-only', [`${host}/${ns}/warn/**`], { mode: 'warn' })),
    );
    await observed('warn-only');
    const image = images['warn/web']!;
    const r = await apply(pod('warned', image.ref));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'pod/warned created');
    assert.match(
      r.stderr,
      /^Warning: image 127\.0\.0\.1:\d+\/apps\/warn\/web:v1 in spec\.containers\[0\]\.image: policy warn-only \(warn\): .*\[SIGNATURE_MISSING\]$/m,
    );
  });

  step('audit mode: admitted silently, an Event records the finding', async () => {
    await must(
      ['apply', '-f', '-'],
      JSON.stringify(policy('audit-only', [`${host}/${ns}/audit/**`], { mode: 'audit' })),
    );
    await observed('audit-only');
    const r = await apply(pod('audited', images['audit/web']!.ref));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr.trim(), '');
    for (let i = 0; ; i++) {
      const events = await must([
        'get',
        'events',
        '-n',
        ns,
        '--field-selector',
        'reason=ImageVerificationAudit',
        '-o',
        'jsonpath={range .items[*]}{.involvedObject.kind}/{.involvedObject.name}: {.message}{"\\n"}{end}',
      ]);
      if (events.includes('Pod/audited: audit: image')) {
        assert.match(
          events,
          /Pod\/audited: audit: image .*\/apps\/audit\/web:v1 in spec\.containers\[0\]\.image: policy audit-only: .*\[SIGNATURE_MISSING\]/,
        );
        break;
      }
      if (i > 100) throw new Error(`no audit event: ${events}`);
      await delay(50);
    }
  });

  step('dry run: judged like any request, but no audit Event (sideEffects: NoneOnDryRun)', async () => {
    const dry = await kubectl(
      ['apply', '--dry-run=server', '-f', '-'],
      JSON.stringify(pod('audited-dry', images['audit/web']!.ref)),
    );
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(dry.stdout.trim(), 'pod/audited-dry created (server dry run)');
    // A real request after it: once its Event is there, the dry run's would be too (one process, in order).
    assert.equal((await apply(pod('audited-after', images['audit/web']!.ref))).code, 0);
    for (let i = 0; ; i++) {
      const names = await must([
        'get',
        'events',
        '-n',
        ns,
        '--field-selector',
        'reason=ImageVerificationAudit',
        '-o',
        'jsonpath={.items[*].involvedObject.name}',
      ]);
      if (names.split(' ').includes('audited-after')) {
        assert.ok(!names.split(' ').includes('audited-dry'), names);
        break;
      }
      if (i > 100) throw new Error(`no audit event: ${names}`);
      await delay(50);
    }
  });

  for (const source of ['inline', 'configMap'] as const) {
    step(
      `a namespaced ImagePolicy adds to the ClusterImagePolicy (AND), with a TrustRoot resource (${source})`,
      async () => {
        const trustedRoot = readFileSync(world.sigstore.trustedRootPath, 'utf8');
        const rootName = `local-sigstore-${source.toLowerCase()}`;
        const podName = `web-team-${source.toLowerCase()}`;
        if (source === 'configMap')
          await must(
            ['apply', '-f', '-'],
            JSON.stringify({
              apiVersion: 'v1',
              kind: 'ConfigMap',
              metadata: { name: 'sigstore-root', namespace: own },
              data: { 'trusted_root.json': trustedRoot },
            }),
          );
        await must(
          ['apply', '-f', '-'],
          JSON.stringify({
            apiVersion: 'policy.sigward.dev/v1alpha1',
            kind: 'TrustRoot',
            metadata: { name: rootName },
            spec:
              source === 'inline'
                ? { trustedRoot }
                : { configMapRef: { name: 'sigstore-root', namespace: own } },
          }),
        );
        await observed(rootName, 'trustroot');
        const namespaced = {
          ...policy(
            'team-extra',
            [`${host}/${ns}/enforce/**`],
            { mode: 'warn' },
            { subject: identityOf('intruder') },
          ),
          kind: 'ImagePolicy',
          metadata: { name: 'team-extra', namespace: ns },
        };
        (namespaced.spec.authorities[0] as Record<string, unknown>)['trustRootRef'] = rootName;
        await must(['apply', '-f', '-'], JSON.stringify(namespaced));
        await observed('team-extra', 'imagepolicy', ns);
        const image = images['enforce/web']!;
        // A ConfigMap is read just after the snapshot changes: a first answer may still find the root
        // loading (TRUST_ROOT_ERROR, a warning under this warn-mode policy); a later one must not.
        let r = await apply(pod(podName, image.ref));
        for (let i = 0; r.stderr.includes('TRUST_ROOT_ERROR') && i < 50; i++) {
          await must(['delete', 'pod', podName, '-n', ns]);
          await delay(50);
          r = await apply(pod(podName, image.ref));
        }
        assert.equal(r.code, 0, r.stderr);
        // Verified against the TrustRoot resource (else TRUST_ROOT_ERROR): the signer is not the team's.
        assert.match(
          r.stderr,
          /^Warning: image .*\/apps\/enforce\/web:v1 in spec\.containers\[0\]\.image: policy apps\/team-extra \(warn\): expected subject .*\[IDENTITY_MISMATCH\]$/m,
        );
        await must(['delete', 'imagepolicy', 'team-extra', '-n', ns]);
      },
    );
  }

  step('an invalid regexp shows in the policy status, with its field path', async () => {
    await must(
      ['apply', '-f', '-'],
      JSON.stringify(
        policy(
          'bad-regexp',
          [`${host}/${ns}/nothing/**`],
          {},
          { subject: undefined, subjectRegExp: 'https://(' },
        ),
      ),
    );
    const status = await observed('bad-regexp');
    assert.equal(status.ready, 'False');
    assert.match(status.message, /^spec\.authorities\[0\]\.keyless\.identities\[0\]\.subjectRegExp: /);
  });

  step('registry down: the configured outcome (deny) within the deadline', async () => {
    const down = `127.0.0.1:${await freePort()}`;
    await must(['apply', '-f', '-'], JSON.stringify(policy('down', [`${down}/**`], {})));
    await observed('down');
    const started = performance.now();
    const r = await apply(pod('down', `${down}/${ns}/web:v1`));
    const elapsed = performance.now() - started;
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /denied the request: image 127\.0\.0\.1:\d+\/apps\/web:v1 in spec\.containers\[0\]\.image: policy down(, authority release-job)?: could not resolve the tag to a digest: .*\[REGISTRY_ERROR\]$/m,
    );
    assert.ok(elapsed < 10_000, `answered in ${Math.round(elapsed)} ms`);
    // Refused without a verdict: error-deny, and the registry's failure is an error code, not a status.
    const text = await metricsText();
    assert.match(
      text,
      /^sigward_admissions_total\{decision="error-deny",kind="Pod",route="validate",operation="CREATE"\} [1-9]/m,
    );
    assert.match(
      text,
      new RegExp(
        `^sigward_registry_request_errors_total\\{registry="${down}",method="(GET|HEAD)",error="REGISTRY_[A-Z_]+"\\} [1-9]`,
        'm',
      ),
    );
    assert.doesNotMatch(text, new RegExp(`sigward_registry_requests_total\\{registry="${down}"`));
    assert.match(
      text,
      new RegExp(
        `^sigward_registry_requests_total\\{registry="${host}",method="(GET|HEAD)",status="200"\\} [1-9]`,
        'm',
      ),
    );
  });

  step(
    "pull secrets: a private registry is read with the pod's (or its service account's) credentials",
    async () => {
      const registry = await startOlareg(world.runDir, {
        referrers: true,
        name: 'olareg-private',
        auth: { kind: 'htpasswd', users: { puller: 'puller-password' } },
      });
      try {
        await world.clients.crane(['auth', 'login', registry.host, '-u', 'puller', '-p', 'puller-password']);
        const tools = { crane: world.clients.crane, workDir: world.runDir.sub('private-images') };
        const image = await pushImage(tools, registry.host, `${ns}/private`, 'v1');
        await cosignSignAs(world, ns, 'release', image.byDigest);
        const auth = Buffer.from('puller:puller-password').toString('base64');
        const dockerConfig = JSON.stringify({
          auths: { [registry.host]: { username: 'puller', password: 'puller-password', auth } },
        });
        await must(
          ['apply', '-f', '-'],
          JSON.stringify({
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: { name: 'private-pull', namespace: ns },
            type: 'kubernetes.io/dockerconfigjson',
            data: { '.dockerconfigjson': Buffer.from(dockerConfig).toString('base64') },
          }),
        );
        await must(['create', 'serviceaccount', 'builder', '-n', ns]);
        await must([
          'patch',
          'serviceaccount',
          'builder',
          '-n',
          ns,
          '-p',
          JSON.stringify({ imagePullSecrets: [{ name: 'private-pull' }] }),
        ]);
        await must(['apply', '-f', '-'], JSON.stringify(policy('private', [`${registry.host}/**`], {})));
        await observed('private');

        const anonymous = await apply(pod('private-anonymous', image.ref));
        assert.notEqual(anonymous.code, 0);
        assert.match(
          anonymous.stderr,
          /policy private: could not resolve the tag to a digest: .*\[REGISTRY_AUTH\]$/m,
        );

        const withSecret = pod('private-secret', image.ref) as ReturnType<typeof pod> & {
          spec: Record<string, unknown>;
        };
        withSecret.spec['imagePullSecrets'] = [{ name: 'private-pull' }];
        const r1 = await apply(withSecret);
        assert.equal(r1.code, 0, r1.stderr);

        const viaAccount = pod('private-sa', image.ref) as ReturnType<typeof pod> & {
          spec: Record<string, unknown>;
        };
        viaAccount.spec['serviceAccountName'] = 'builder';
        const r2 = await apply(viaAccount);
        assert.equal(r2.code, 0, r2.stderr);
        const pinned = await podImage(must, ns, 'private-sa');
        assert.equal(pinned, `${image.ref}@${image.digest}`);
      } finally {
        await registry.stop();
      }
    },
  );

  step('metrics show the decisions', async () => {
    const text = await metricsText();
    assert.match(
      text,
      /sigward_admissions_total\{decision="deny",kind="Pod",route="validate",operation="CREATE"\} \d+/,
    );
    assert.match(
      text,
      /sigward_verifications_total\{policy="release-signed",authority="release-job",result="verified",reason="VERIFIED"\} \d+/,
    );
    assert.ok(readFileSync(webhook.logFile, 'utf8').includes('policy snapshot updated'));
    assert.match(text, /^sigward_fail_open_total\{reason="TIMEOUT"\} 0$/m);
    assert.match(text, /^process_resident_memory_bytes \d/m);
  });

  step(
    'stdout is JSON lines only (informers, leader lease, admissions), the admission line has uid, user and reasons',
    async () => {
      const out = readFileSync(webhook.stdoutFile!, 'utf8');
      const records = out
        .trimEnd()
        .split('\n')
        .map((line) => {
          try {
            return JSON.parse(line) as Record<string, unknown>;
          } catch {
            return assert.fail(`a stdout line is not JSON: ${line}`);
          }
        });
      assert.ok(
        records.some((r) => r['msg'] === 'policies synced from the cluster'),
        'the informers logged',
      );
      const denial = records.find(
        (r) => r['msg'] === 'admission' && r['route'] === 'validate' && r['decision'] === 'deny',
      );
      assert.ok(denial, 'a denial was logged');
      assert.match(String(denial['uid']), /^[0-9a-f-]{36}$/, "the apiserver's request uid");
      assert.equal(typeof denial['user'], 'string');
      assert.notEqual(denial['user'], '');
      assert.ok(Array.isArray(denial['reasons']) && denial['reasons'].length > 0, JSON.stringify(denial));
      assert.match(
        String(denial['summary']),
        new RegExp(`\\[${String((denial['reasons'] as string[])[0])}\\]`),
      );
    },
  );
});
