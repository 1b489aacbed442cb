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
import { test } from 'node:test';
import { REPO_ROOT } from '../sigstore/ext.ts';
import { freshEnv, policyLoadLog, startWebhook } from '../cli/webhook-process.ts';

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
      'image nginx:1.27 in spec.containers[0].image: no image policy matches this image (unmatched images: deny) [NO_POLICY]',
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

test('a taken port: one line saying what to do, exit 1, no certificate or stack trace', async () => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const { port } = taken.address() as AddressInfo;
  try {
    const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(
        join(REPO_ROOT, 'bin/sigward'),
        ['webhook', `--listen=127.0.0.1:${port}`, '--log-level=warn'],
        { env: freshEnv() },
        (error, stdout, stderr) => resolve({ code: Number(error?.code ?? 0), stdout, stderr }),
      ),
    );
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      `sigward webhook: 127.0.0.1:${port} is already in use (another sigward webhook or \`npm start\` ` +
        'still running?): stop it, or pass --listen HOST:PORT with a free port\n',
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
