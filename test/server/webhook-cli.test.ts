// `sigward webhook` as a newcomer runs it (`./bin/sigward webhook`) on a fresh machine: no cluster, the
// sample policies, the embedded public-good root, a self-signed certificate (printed on stderr; stdout
// is only JSON log lines); it answers the sample reviews and stops cleanly on SIGTERM. A taken port is
// one line saying what to do.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import https from 'node:https';
import { test } from 'node:test';
import { REPO_ROOT } from '../sigstore/ext.ts';
import { freshEnv, policyLoadLog, startWebhook } from '../cli/webhook-process.ts';
import { makeClientCertificate, makeTestTls } from '../support/tls.ts';

test(
  'no cluster: sample policies, self-signed certificate, an explained denial, clean SIGTERM',
  { timeout: 60_000 },
  async () => {
    const webhook = await startWebhook([]);
    assert.match(webhook.stderr(), /policies: 2 from files in .*examples\/policies/);
    const review = readFileSync(join(REPO_ROOT, 'examples/admission/pod-unmatched.json'), 'utf8');
    const answer = await webhook.post('/validate', review);
    assert.equal(answer.status, 200);
    const response = (
      JSON.parse(answer.body) as { response: { allowed: boolean; status: { message: string } } }
    ).response;
    assert.equal(response.allowed, false);
    assert.equal(
      response.status.message,
      'image nginx:1.27 in spec.containers[0].image: no image policy matches index.docker.io/library/nginx (unmatched images: deny) [NO_POLICY]',
    );
    assert.equal(await webhook.stop(), 0);
    // stdout is for log collectors: every line is one JSON object (records() fails on any other), the
    // listening line among them.
    assert.ok(
      webhook.records().some((r) => r.msg === 'listening' && r['url'] === webhook.url),
      webhook.stdout(),
    );
  },
);

for (const flag of ['--listen', '--health-listen'])
  test(`a taken ${flag} port: one line saying what to do, exit 1, no certificate or stack trace`, async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    const args =
      flag === '--listen'
        ? [`--listen=127.0.0.1:${port}`]
        : ['--listen=127.0.0.1:0', `--health-listen=127.0.0.1:${port}`];
    try {
      const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
        execFile(
          join(REPO_ROOT, 'bin/sigward'),
          ['webhook', ...args, '--log-level=warn'],
          { env: freshEnv() },
          (error, stdout, stderr) => resolve({ code: Number(error?.code ?? 0), stdout, stderr }),
        ),
      );
      assert.equal(result.code, 1);
      assert.equal(
        result.stderr,
        `sigward webhook: 127.0.0.1:${port} is already in use (another sigward webhook or \`npm start\` ` +
          `still running?): stop it, or pass ${flag} HOST:PORT with a free port\n`,
      );
      assert.equal(result.stdout, '');
    } finally {
      taken.close();
    }
  });

for (const flag of ['verdict-cache-entries', 'attestation-cache-entries']) {
  test(`--${flag}: a whole number of at least 1, else exit 2 naming the flag`, async () => {
    for (const bad of ['0', '-5', 'many']) {
      const result = await new Promise<{ code: number; stderr: string }>((resolve) =>
        execFile(
          join(REPO_ROOT, 'bin/sigward'),
          ['webhook', '--listen=127.0.0.1:0', `--${flag}=${bad}`],
          { env: freshEnv() },
          (error, _stdout, stderr) => resolve({ code: Number(error?.code ?? 0), stderr }),
        ),
      );
      assert.equal(result.code, 2, bad);
      assert.match(result.stderr, new RegExp(`--${flag} is (a whole number|at least 1)`), bad);
    }
  });
}

test('--policies DIR: every compile error and warning is logged at load with its field path', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sigward-policies-'));
  writeFileSync(
    join(dir, 'bad.yaml'),
    [
      'apiVersion: policy.sigward.dev/v1alpha1',
      'kind: ClusterImagePolicy',
      'metadata: { name: release }',
      'spec:',
      '  images: [ghcr.io/acme/**]',
      '  authorities:',
      '    - name: ci',
      '      keyless:',
      '        identities:',
      '          - { issuer: https://token.actions.githubusercontent.com, subjectRegex: x }',
      '    - name: anyone',
      '      keyless:',
      '        identities: [{ issuerRegExp: ".*", subjectRegExp: ".*" }]',
      '    - name: no-scheme',
      '      keyless:',
      '        identities: [{ issuer: accounts.google.com, subject: dev@acme.example }]',
      '',
    ].join('\n'),
  );
  const { records, stdout } = await policyLoadLog(dir);
  const about = records.filter((r) => r.resource === 'ClusterImagePolicy/release');
  assert.deepEqual(
    about.map((r) => [r.level, r.field, r.problem]),
    [
      [
        50,
        'spec.authorities[0].keyless.identities[0].subjectRegex',
        'unknown field (did you mean `subjectRegExp`?)',
      ],
      [
        50,
        'spec.authorities[0].keyless.identities[0].subject',
        'one of spec.authorities[0].keyless.identities[0].subject or spec.authorities[0].keyless.identities[0].subjectRegExp is required',
      ],
      [
        40,
        'spec.authorities[1].keyless.identities[0].issuerRegExp',
        'accepts any issuer: name who may sign (an exact issuer, or a narrower expression)',
      ],
      [
        40,
        'spec.authorities[1].keyless.identities[0].subjectRegExp',
        'accepts any subject: name who may sign (an exact subject, or a narrower expression)',
      ],
      [
        40,
        'spec.authorities[2].keyless.identities[0].issuer',
        'is not an https URL: Fulcio certificates name their OIDC issuer by its https URL (e.g. https://token.actions.githubusercontent.com), so this never matches',
      ],
    ],
    stdout,
  );
});

test(
  '--client-ca, --client-name, --health-listen: reviews need the named certificate, probes the health port',
  { timeout: 60_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sigward-cli-client-ca-'));
    makeTestTls(dir);
    const apiserver = makeClientCertificate(dir, 'apiserver', { commonName: 'kube-apiserver' });
    const webhook = await startWebhook([
      `--client-ca=${join(dir, 'ca.pem')}`,
      '--client-name=kube-apiserver',
      '--health-listen=127.0.0.1:0',
    ]);
    try {
      assert.match(
        webhook.stderr(),
        /callers need a client certificate from \S+ca\.pem naming kube-apiserver\n/,
      );
      const health =
        /health: (https:\/\/127\.0\.0\.1:\d+) \(\/livez, \/readyz, \/metrics; no client certificate\)/.exec(
          webhook.stderr(),
        )?.[1];
      assert.ok(health, webhook.stderr());
      const review = readFileSync(join(REPO_ROOT, 'examples/admission/pod-unmatched.json'), 'utf8');
      const send = (url: string, method: string, client?: { cert: string; key: string }) =>
        new Promise<number>((resolve, reject) => {
          const req = https.request(
            url,
            {
              method,
              ca: webhook.ca,
              agent: false,
              headers: { 'content-type': 'application/json' },
              ...client,
            },
            (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode ?? 0));
            },
          );
          req.on('error', reject);
          req.end(method === 'POST' ? review : undefined);
        });
      await assert.rejects(
        webhook.post('/validate', review),
        'no client certificate: refused in the handshake',
      );
      assert.equal(await send(`${webhook.url}/validate`, 'POST', apiserver), 200);
      assert.equal(await send(`${health}/readyz`, 'GET'), 200);
      assert.equal(await send(`${health}/validate`, 'POST'), 404);
      // stdout is written in batches: wait for the line rather than read what has arrived so far.
      const listening = await webhook.waitFor('the listening line', (r) => r.msg === 'listening');
      assert.equal(listening['clientCertificates'], 'required');
      assert.deepEqual(listening['clientNames'], ['kube-apiserver']);
      assert.equal(listening['healthUrl'], health);
      assert.ok(!webhook.records().some((r) => String(r.msg).includes('no --health-listen')));
    } finally {
      assert.equal(await webhook.stop(), 0);
    }
  },
);

test(
  '--client-ca without --health-listen: a warning that probes and scrapes cannot get through',
  {
    timeout: 60_000,
  },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sigward-cli-client-ca-nohealth-'));
    makeTestTls(dir);
    const webhook = await startWebhook([`--client-ca=${join(dir, 'ca.pem')}`]);
    try {
      const warning = await webhook.waitFor('the warning', (r) =>
        String(r.msg).includes('no --health-listen'),
      );
      assert.equal(warning.level, 40);
      assert.match(
        warning.msg,
        /kubelet probes and Prometheus, which present none, cannot reach \/livez, \/readyz or \/metrics/,
      );
    } finally {
      assert.equal(await webhook.stop(), 0);
    }
  },
);
