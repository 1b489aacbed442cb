// The policy rules that count signatures, against the REAL apiserver: `sigward webhook` runs as a host
// process registered as a Validating webhook at https://127.0.0.1:<port>/validate (as in
// webhook.e2e.ts); cosign v3 signs with an apiserver service-account token. `threshold: 2` over two
// authorities that both accept one cosign signature admits; `multiArch: index` admits a platform
// digest written `repo:v1@sha256:<platform>` because cosign signed the index `v1` names, and denies
// the same digest without a tag, saying there is no index to find.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe } from 'node:test';
import { writeSecretFile } from './world/clients.ts';
import { pushImage, pushIndex, type PushedImage } from './world/images.ts';
import { createCa, issueServingCert } from './world/pki.ts';
import { startService, type Service } from './world/process.ts';
import { freePort } from './world/ports.ts';
import { startWorld, type World } from './world/world.ts';
import { stepsNotingFailure } from './world/failing-steps.ts';

const ns = 'apps';
const own = 'sigward-system';
const identityOf = (sa: string) => `https://kubernetes.io/namespaces/${ns}/serviceaccounts/${sa}`;
const repoRoot = path.resolve(import.meta.dirname, '..');

describe('policy rules (threshold, multiArch index) against the apiserver', () => {
  let world: World;
  let webhook: Service;
  let failed = false;
  let host: string;
  let signed: PushedImage;
  let index: PushedImage;

  const kubectl = (args: readonly string[], input?: string) =>
    world.kube.kubectl(args, input === undefined ? {} : { input });
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
  const apply = (manifest: object) => kubectl(['apply', '-f', '-'], JSON.stringify(manifest));
  const keyless = (name: string, subject: object) => ({
    name,
    keyless: {
      identities: [{ issuer: world.kube.issuer, ...subject }],
      // This tier runs no CT log: Fulcio's certificates carry no SCT.
      insecureIgnoreSCT: true,
    },
  });
  const policy = (name: string, images: string[], authorities: object[], extra: object) => ({
    apiVersion: 'policy.sigward.dev/v1alpha1',
    kind: 'ClusterImagePolicy',
    metadata: { name },
    spec: { images, authorities, ...extra },
  });

  /** Waits until the webhook's leader has written status for this generation (never a fixed sleep). */
  async function observed(name: string): Promise<void> {
    const generation = (await must(['get', 'cip', name, '-o', 'jsonpath={.metadata.generation}'])).trim();
    for (let i = 0; i < 200; i++) {
      const seen = await must(['get', 'cip', name, '-o', 'jsonpath={.status.observedGeneration}']);
      if (seen.trim() === generation) return;
      await delay(50);
    }
    throw new Error(`cip ${name}: status never observed generation ${generation}`);
  }

  async function sign(ref: string, sa: string): Promise<void> {
    const token = await world.kube.createToken(ns, sa, { audience: 'sigstore' });
    const tokenFile = writeSecretFile(world.runDir.sub('tokens'), `${sa}-${ref.slice(-12)}`, token);
    await world.clients.cosign([
      'sign',
      '--yes',
      `--identity-token=${tokenFile}`,
      `--signing-config=${world.sigstore.signingConfigPath}`,
      `--trusted-root=${world.sigstore.trustedRootPath}`,
      ref,
    ]);
  }

  function readyz(url: string, ca: string): Promise<number> {
    return new Promise((resolve, reject) => {
      https
        .get(url, { ca }, (res) => {
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
    await world.kube.createServiceAccount(ns, 'release');
    for (const file of readdirSync(path.join(repoRoot, 'charts/sigward/crds')))
      await must(['apply', '-f', path.join(repoRoot, 'charts/sigward/crds', file)]);
    await must(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=30s']);

    host = world.registries.referrers.host;
    const tools = { crane: world.clients.crane, workDir: world.runDir.sub('images') };
    signed = await pushImage(tools, host, `${ns}/threshold/web`, 'v1');
    index = await pushIndex(tools, host, `${ns}/multi/web`, 'v1');
    await sign(signed.byDigest, 'release');
    await sign(index.byDigest, 'release'); // the index only, not its platform manifests

    const pki = world.runDir.sub('webhook-pki');
    const ca = await createCa(pki, 'webhook-ca');
    const serving = await issueServingCert(ca, pki, 'webhook', ['127.0.0.1']);
    const port = await freePort();
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
      ready: async () => (await readyz(`https://127.0.0.1:${port}/readyz`, ca.certPem)) === 200,
    });
    await must(
      ['apply', '-f', '-'],
      JSON.stringify({
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
            clientConfig: {
              url: `https://127.0.0.1:${port}/validate`,
              caBundle: Buffer.from(ca.certPem).toString('base64'),
            },
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
            rules: [
              { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods'] },
            ],
          },
        ],
      }),
    );
    const release = keyless('release-job', { subject: identityOf('release') });
    await must(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          policy(
            'two-authorities',
            [`${host}/${ns}/threshold/**`],
            [release, keyless('apps-namespace', { subjectRegExp: `${identityOf('')}[a-z-]+` })],
            { threshold: 2 },
          ),
          policy('index-signed', [`${host}/${ns}/multi/**`], [release], { multiArch: 'index' }),
        ],
      }),
    );
    await observed('two-authorities');
    await observed('index-signed');
    // The apiserver picks webhook configurations up through an informer: wait until a dry run is judged.
    const probe = `${host}/${ns}/multi/web@${index.platforms![0]!.digest}`;
    for (let i = 0; ; i++) {
      const r = await kubectl(['apply', '--dry-run=server', '-f', '-'], JSON.stringify(pod('probe', probe)));
      if (r.code !== 0 && r.stderr.includes('sigward')) break;
      if (i > 200) throw new Error(`webhook never engaged: ${r.stderr}`);
      await delay(50);
    }
  }

  after(async () => {
    await webhook?.stop();
    const kept = await world?.stop(failed ? { keepLogsAs: 'policy-rules' } : {});
    if (kept) console.error(`policy-rules e2e: logs kept in ${kept}`);
  });

  const step = stepsNotingFailure(() => (failed = true));

  step('threshold 2: one cosign signature both authorities accept is admitted', async () => {
    const r = await apply(pod('threshold', signed.ref));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'pod/threshold created');
  });

  step('multiArch index: repo:v1@<platform> is admitted through the signed index v1 names', async () => {
    const platform = index.platforms![1]!.digest;
    const r = await apply(pod('by-index', `${index.ref}@${platform}`));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'pod/by-index created');
  });

  step(
    'multiArch index: the same digest without a tag is denied, saying there is no index to find',
    async () => {
      const image = `${host}/${index.repository}@${index.platforms![1]!.digest}`;
      const r = await apply(pod('no-tag', image));
      assert.notEqual(r.code, 0);
      assert.ok(
        r.stderr.includes(
          `policy index-signed, authority release-job: no signatures found (looked in the referrers API and the legacy .sig tag, in ${host}/${index.repository}); ` +
            `multiArch index: ${image} names no tag, so there is no index to find whose signature could count (name it as repository:tag@digest) [SIGNATURE_MISSING]`,
        ),
        r.stderr,
      );
    },
  );
});
