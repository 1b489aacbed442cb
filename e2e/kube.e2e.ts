// The world's control plane is a real Kubernetes: a v1.36 apiserver on etcd that issues real
// service-account tokens for audience `sigstore`, and whose OIDC discovery a stranger (Fulcio) can read.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, createVerify, type JsonWebKey } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { WorldError } from './world/errors.ts';
import { startKube, type Kube } from './world/kube.ts';
import { createCa, issueServingCert } from './world/pki.ts';
import { createRunDir, type RunDir } from './world/run-dir.ts';
import { stepsNotingFailure } from './world/failing-steps.ts';

interface Claims {
  iss: string;
  aud: string[];
  sub: string;
  iat: number;
  exp: number;
  'kubernetes.io': { namespace: string; serviceaccount: { name: string; uid: string } };
}

function decodeJwt(token: string): { header: { alg: string; kid: string }; claims: Claims } {
  const [header, payload] = token.split('.');
  const json = (part: string | undefined) =>
    JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8'));
  return { header: json(header), claims: json(payload) };
}

describe('kube control plane', () => {
  let runDir: RunDir;
  let kube: Kube;
  let failed = false;
  // Logs are kept (under .e2e-logs/) only when something failed.
  const check = stepsNotingFailure(() => (failed = true));

  before(async () => {
    runDir = createRunDir('sigward-kube-');
    try {
      kube = await startKube(runDir);
    } catch (error) {
      failed = true;
      throw error;
    }
  });

  after(async () => {
    await kube?.stop();
    if (failed) console.error(`kube e2e: logs kept in ${runDir.keepLogs('kube')}`);
    runDir.remove();
  });

  check('the server is Kubernetes v1.36 and the issuer has no trailing slash', async () => {
    const result = await kube.kubectl(['version', '-o', 'json']);
    assert.equal(result.code, 0, result.stderr);
    const versions = JSON.parse(result.stdout) as {
      clientVersion: { gitVersion: string };
      serverVersion: { gitVersion: string };
    };
    assert.match(versions.serverVersion.gitVersion, /^v1\.36\.\d+$/);
    assert.match(versions.clientVersion.gitVersion, /^v1\.36\.\d+$/);
    assert.equal(kube.version, versions.serverVersion.gitVersion);
    assert.match(kube.issuer, /^https:\/\/127\.0\.0\.1:\d+$/);
  });

  check('anyone can read the OIDC discovery document and the keys', async () => {
    const discovery = await kube.anonymousGet('/.well-known/openid-configuration');
    assert.equal(discovery.status, 200, discovery.body);
    const document = JSON.parse(discovery.body) as { issuer: string; jwks_uri: string };
    assert.equal(document.issuer, kube.issuer);
    assert.equal(document.jwks_uri, `${kube.issuer}/openid/v1/jwks`);

    const jwks = await kube.anonymousGet('/openid/v1/jwks');
    assert.equal(jwks.status, 200, jwks.body);
    const { keys } = JSON.parse(jwks.body) as { keys: JsonWebKey[] };
    assert.ok(keys.length > 0);
  });

  check('a service account gets a signed token for audience sigstore', async () => {
    await kube.ensureNamespace('signers');
    await kube.ensureNamespace('signers'); // again: ensuring is idempotent
    await kube.createServiceAccount('signers', 'builder');
    const token = await kube.createToken('signers', 'builder', { audience: 'sigstore', duration: '10m' });

    const { header, claims } = decodeJwt(token);
    assert.equal(claims.iss, kube.issuer);
    assert.deepEqual(claims.aud, ['sigstore']);
    assert.equal(claims.sub, 'system:serviceaccount:signers:builder');
    assert.equal(claims['kubernetes.io'].namespace, 'signers');
    assert.equal(claims['kubernetes.io'].serviceaccount.name, 'builder');
    assert.equal(claims.exp - claims.iat, 600);

    // The signature verifies with the key the anonymous JWKS publishes, as Fulcio will check it.
    const { keys } = JSON.parse((await kube.anonymousGet('/openid/v1/jwks')).body) as {
      keys: (JsonWebKey & { kid: string })[];
    };
    const jwk = keys.find((key) => key.kid === header.kid);
    assert.ok(jwk, `no key ${header.kid} in the JWKS`);
    assert.equal(header.alg, 'RS256');
    const [h, p, s] = token.split('.');
    const verifier = createVerify('RSA-SHA256').update(`${h}.${p}`);
    assert.ok(
      verifier.verify(createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(s ?? '', 'base64url')),
    );
  });

  check('no token for a service account that does not exist', async () => {
    await kube.ensureNamespace('signers');
    await assert.rejects(
      kube.createToken('signers', 'ghost', { audience: 'sigstore' }),
      (error: unknown) =>
        error instanceof WorldError &&
        error.code === 'KUBECTL_FAILED' &&
        /serviceaccounts "ghost" not found/.test(error.message) &&
        !error.message.includes('\n'),
    );
  });

  check('an anonymous client may not list pods', async () => {
    const pods = await kube.anonymousGet('/api/v1/pods');
    assert.equal(pods.status, 403, pods.body);
    assert.match(pods.body, /system:anonymous/);
  });

  check('the admin may, and the apiserver stores what it is given', async () => {
    await kube.ensureNamespace('store');
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web', namespace: 'store' },
      spec: { containers: [{ name: 'web', image: 'registry.example/web:1' }] },
    };
    const applied = await kube.kubectl(['apply', '-f', '-'], { input: JSON.stringify(pod) });
    assert.equal(applied.code, 0, applied.stderr);
    const got = await kube.kubectl([
      'get',
      'pods',
      '-n',
      'store',
      '-o',
      'jsonpath={.items[*].metadata.name}',
    ]);
    assert.equal(got.stdout, 'web');
  });

  check('the apiserver calls a webhook at a loopback URL whose certificate comes from pki.ts', async (t) => {
    // A stand-in webhook: denies images named `unsigned`, and records who asked.
    const ca = await createCa(runDir.sub('probe-webhook'), 'webhook-ca');
    const serving = await issueServingCert(ca, runDir.sub('probe-webhook'), 'webhook', ['127.0.0.1']);
    const users: string[] = [];
    const server = https.createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        const review = JSON.parse(body) as {
          request: {
            uid: string;
            userInfo: { username: string };
            object: { spec: { containers: { image: string }[] } };
          };
        };
        users.push(review.request.userInfo.username);
        const denied = review.request.object.spec.containers.some((c) => c.image.includes('unsigned'));
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            apiVersion: 'admission.k8s.io/v1',
            kind: 'AdmissionReview',
            response: {
              uid: review.request.uid,
              allowed: !denied,
              ...(denied ? { status: { code: 403, message: 'probe webhook: image is unsigned' } } : {}),
            },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => server.close());
    const { port } = server.address() as net.AddressInfo;

    await kube.ensureNamespace('webhooked');
    const configuration = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: 'kube-e2e-probe' },
      webhooks: [
        {
          name: 'probe.sigward.test',
          clientConfig: {
            url: `https://127.0.0.1:${port}/validate`,
            caBundle: Buffer.from(ca.certPem).toString('base64'),
          },
          rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'webhooked' } },
          sideEffects: 'None',
          admissionReviewVersions: ['v1'],
          failurePolicy: 'Fail',
          timeoutSeconds: 5,
        },
      ],
    };
    const created = await kube.kubectl(['apply', '-f', '-'], { input: JSON.stringify(configuration) });
    assert.equal(created.code, 0, created.stderr);
    t.after(() => kube.kubectl(['delete', 'validatingwebhookconfiguration', 'kube-e2e-probe']));

    const pod = (image: string) =>
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'probe', namespace: 'webhooked' },
        spec: { containers: [{ name: 'app', image }] },
      });
    const dryRun = (image: string) =>
      kube.kubectl(['create', '--dry-run=server', '-f', '-'], { input: pod(image) });
    // The apiserver learns of new webhook configurations through an informer: wait until it calls ours.
    const deadline = Date.now() + 15_000;
    let denied = await dryRun('registry.example/unsigned:1');
    while (denied.code === 0 && Date.now() < deadline) {
      await delay(200);
      denied = await dryRun('registry.example/unsigned:1');
    }
    assert.notEqual(denied.code, 0);
    assert.match(
      denied.stderr,
      /admission webhook "probe\.sigward\.test" denied the request: probe webhook: image is unsigned/,
    );
    const allowed = await dryRun('registry.example/signed:1');
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.ok(users.length >= 2 && users.every((user) => user === 'admin'), users.join(','));
  });
});

/** Processes whose command line mentions this text (Linux /proc), to prove nothing was left running. */
function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes(text)) found.push(`${pid} ${cmdline}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

test('an apiserver that cannot start is one error, and its etcd is stopped too', async (t) => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => blocker.close());
  const taken = (blocker.address() as net.AddressInfo).port;
  const runDir = createRunDir('sigward-kube-');
  t.after(() => runDir.remove());

  await assert.rejects(startKube(runDir, { port: taken }), (error: unknown) => {
    assert.ok(error instanceof WorldError);
    assert.equal(error.code, 'SERVICE_EXITED');
    assert.match(error.message, /^kube-apiserver exited \(code 1\) before it was ready; log /);
    assert.match(error.message, /address already in use/);
    return true;
  });
  assert.deepEqual(processesMentioning(runDir.root), []);
});
