// Only the apiserver gets through: kube-apiserver is started with an --admission-control-config-file
// whose kubeconfig gives it a client certificate for the webhook's host:port (README "Authenticating
// the apiserver"); `helm install` with clientAuth on (that CA as caBundle, names [kube-apiserver]) and
// `sigward webhook` on the host with exactly the Deployment's arguments. A keyless-signed image is
// admitted and pinned and an unsigned one denied through the chart's webhooks, so the apiserver passed
// the handshake; a made-up AdmissionReview posted straight to the port without a certificate, with one
// from another CA, or with one from the right CA under another name is refused at the TLS layer and
// never reviewed; the probes and /metrics answer on the health port without a certificate.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import {
  getFromWebhook,
  installChartWithHostWebhook,
  kubectlMust,
  podImage,
  podManifest,
  pointWebhooksAt,
  waitForSigwardDenial,
  type HostWebhook,
} from './world/chart.ts';
import { stepsNotingFailure } from './world/failing-steps.ts';
import { applyClusterPolicy, cosignSignAs, keylessAuthority } from './world/host-webhook.ts';
import { pushImage, type PushedImage } from './world/images.ts';
import { createCa, issueClientCert, type IssuedCertificate } from './world/pki.ts';
import { freePort } from './world/ports.ts';
import { apiserverWebhookClientAuth, type ApiserverClientAuth } from './world/webhook-client-auth.ts';
import { startWorld, type World } from './world/world.ts';

const own = 'sigward-system';
const release = 'sigward';
const checked = 'apps';
const signer = 'release';
const repoRoot = path.resolve(import.meta.dirname, '..');
const madeUpReview = readFileSync(path.join(repoRoot, 'examples/admission/pod-unmatched.json'), 'utf8');

describe('webhook client authentication with the real apiserver', () => {
  let world: World;
  let auth: ApiserverClientAuth;
  let host: HostWebhook | undefined;
  let failed = false;
  const images: Record<'signed' | 'unsigned', PushedImage> = {} as never;
  const step = stepsNotingFailure(() => (failed = true));

  const must = (args: readonly string[], input?: string) => kubectlMust(world.kube.kubectl)(args, input);

  /** POST of a made-up review straight to the webhook port, as any Pod in the cluster could. */
  const postDirectly = (client?: IssuedCertificate) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = https.request(
        `https://127.0.0.1:${host!.port}/validate`,
        {
          method: 'POST',
          ca: host!.caPem,
          agent: false,
          headers: { 'content-type': 'application/json' },
          ...(client === undefined ? {} : { cert: client.certPem, key: client.keyPem }),
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (c: Buffer) => chunks.push(c));
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
          );
        },
      );
      request.on('error', reject);
      request.end(madeUpReview);
    });

  before(async () => {
    try {
      // The apiserver reads its webhook kubeconfig once, at start: the port it names is chosen first.
      const port = await freePort();
      world = await startWorld({
        apiserverArgs: async (runDir) => {
          auth = await apiserverWebhookClientAuth(runDir.sub('webhook-client-auth'), `127.0.0.1:${port}`);
          return auth.apiserverArgs;
        },
      });
      await world.kube.ensureNamespace(own);
      await world.kube.ensureNamespace(checked);
      await world.kube.createServiceAccount(checked, signer);
      const started = await installChartWithHostWebhook(world, {
        release,
        own,
        name: 'sigward-client-auth',
        port,
        clientCaFile: auth.ca.certFile,
        values: { clientAuth: { enabled: true, caBundle: auth.ca.certPem, names: ['kube-apiserver'] } },
        point: false,
      });
      host = started.host;
      assert.ok(started.args.includes('--client-ca=/etc/sigward/client-ca/ca.crt'), started.args.join(' '));
      assert.ok(started.args.includes('--client-name=kube-apiserver'), started.args.join(' '));

      const registry = world.registries.referrers;
      const tools = { crane: world.clients.crane, workDir: world.runDir.sub('images') };
      images.signed = await pushImage(tools, registry.host, `${checked}/mtls/web`, 'v1');
      images.unsigned = await pushImage(tools, registry.host, `${checked}/mtls/unsigned`, 'v1');
      await cosignSignAs(world, checked, signer, images.signed.byDigest);
      // Applied, compiled by the webhook and Ready (applyClusterPolicy throws otherwise).
      await applyClusterPolicy(world, 'mtls-release-signed', [`${registry.host}/${checked}/mtls/**`], {
        authorities: [
          keylessAuthority(world, 'release-job', {
            subject: `https://kubernetes.io/namespaces/${checked}/serviceaccounts/${signer}`,
          }),
        ],
      });
      await pointWebhooksAt(world.kube.kubectl, release, host);
    } catch (error) {
      failed = true;
      throw error;
    }
  });

  after(async () => {
    await host?.service.stop();
    const kept = await world?.stop(failed ? { keepLogsAs: 'webhook-client-auth' } : {});
    if (kept) console.error(`webhook-client-auth e2e: logs kept in ${kept}`);
  });

  step('the apiserver presents its certificate: an unsigned image is denied by sigward', async () => {
    const denied = await waitForSigwardDenial(
      world.kube.kubectl,
      podManifest(checked, 'probe', images.unsigned.ref),
    );
    assert.match(denied, /admission webhook "validate\.sigward\.dev" denied the request/);
    assert.match(denied, /SIGNATURE_MISSING/);
  });

  step('a signed image is admitted through both webhooks and pinned to its digest', async () => {
    const created = await world.kube.kubectl(['apply', '-f', '-'], {
      input: podManifest(checked, 'web', images.signed.ref),
    });
    assert.equal(created.code, 0, created.stderr);
    const image = await podImage(must, checked, 'web');
    assert.equal(image, `${images.signed.ref}@${images.signed.digest}`);
  });

  step('a made-up review posted without a client certificate is refused in the TLS handshake', async () => {
    await assert.rejects(postDirectly(), { code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' });
  });

  step(
    '…with a certificate from another CA, or from the right CA under another name: refused too',
    async () => {
      const dir = world.runDir.sub('strangers');
      const otherCa = await createCa(dir, 'other-ca');
      const stranger = await issueClientCert(otherCa, dir, 'stranger', 'kube-apiserver');
      const node = await issueClientCert(auth.ca, dir, 'node', 'system:node:worker-1', ['system:nodes']);
      await assert.rejects(postDirectly(stranger), { code: 'ECONNRESET' });
      await assert.rejects(postDirectly(node));
      // The apiserver's own certificate is answered: it is the caller that was refused, not the port.
      const answered = await postDirectly(auth.client);
      assert.equal(answered.status, 200, answered.body);
      // The webhook writes its log in batches (at most 200 ms apart): read it until the lines are there.
      const expected = [
        '"reason":"no client certificate"',
        '"reason":"client certificate not accepted by the --client-ca bundle (',
        '"reason":"client certificate names none of the --client-name identities","remote":"127.0.0.1","presented":["system:node:worker-1"]',
      ];
      const deadline = Date.now() + 10_000;
      let log = '';
      while (Date.now() < deadline) {
        log = readFileSync(host!.service.logFile, 'utf8');
        if (expected.every((line) => log.includes(line))) break;
        await delay(50);
      }
      for (const line of expected) assert.ok(log.includes(line), `the webhook logged ${line}`);
    },
  );

  step('probes and /metrics answer on the health port without a certificate', async () => {
    assert.ok(host!.healthPort !== undefined && host!.healthPort !== host!.port);
    assert.equal((await getFromWebhook(host!, '/readyz')).status, 200);
    const metrics = await getFromWebhook(host!, '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /^sigward_admissions_total\{/m);
  });
});
