// Rule 4 end to end: the real `./bin/sigward webhook` at --log-level=trace reads images with the
// credentials of a docker config file (--registry-config) from two real registries: docker-registry
// with htpasswd (a wrong password: refused) and docker-registry with token auth (a refresh token
// exchanged for bearer tokens, the image read, no signature). Every line it writes (stdout and
// stderr) and the denial it answers (what kubectl and the apiserver's audit log get) are searched for
// the password, its Basic encoding, the refresh token and any bearer token.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { staticKeychain } from '../../src/oci/auth.ts';
import { RegistryClient } from '../../src/oci/client.ts';
import { POLICY_API_VERSION } from '../../src/policy/types.ts';
import { startDockerRegistry, type DockerRegistry } from '../support/docker-registry.ts';
import { pushTestImage } from '../support/images.ts';
import { PROD_ROOT_PATH, REPO_ROOT } from '../sigstore/ext.ts';
import { startWebhook } from './webhook-process.ts';

const wrongPassword = 'wrong-pw-Zq81vX0m';
const refreshToken = 'refresh-tok-Hn4Pw2Lk9s';
let basic: DockerRegistry;
let bearer: DockerRegistry;

before(async () => {
  [basic, bearer] = await Promise.all([
    startDockerRegistry({ auth: { kind: 'htpasswd', users: { alice: 'alice-right-pw' } } }),
    startDockerRegistry({
      auth: { kind: 'token', users: { admin: 'admin-pw' }, refreshTokens: { [refreshToken]: 'carol' } },
    }),
  ]);
  // Pushed with other credentials than the webhook's, so each image exists.
  const client = new RegistryClient({
    keychain: staticKeychain({
      [basic.host]: { kind: 'basic', username: 'alice', password: 'alice-right-pw' },
      [bearer.host]: { kind: 'basic', username: 'admin', password: 'admin-pw' },
    }),
  });
  try {
    await pushTestImage(client, { registry: basic.host, repository: 'team/app' }, { tag: 'v1' });
    await pushTestImage(client, { registry: bearer.host, repository: 'team/app' }, { tag: 'v1' });
  } finally {
    await client.close();
  }
});
afterEach((t) => {
  basic.noteResult(t);
  bearer.noteResult(t);
});
after(() => Promise.all([basic?.stop(), bearer?.stop()]));

test(
  'trace-level logs, stderr and the denial hold no password, Basic encoding, refresh token or bearer token',
  { timeout: 60_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sigward-secrets-'));
    const config = join(dir, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        auths: {
          [basic.host]: { auth: Buffer.from(`alice:${wrongPassword}`).toString('base64') },
          [bearer.host]: { identitytoken: refreshToken },
        },
      }),
    );
    const policies = join(dir, 'policies');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(policies);
    writeFileSync(
      join(policies, 'policy.json'),
      JSON.stringify({
        apiVersion: POLICY_API_VERSION,
        kind: 'ClusterImagePolicy',
        metadata: { name: 'signed' },
        spec: {
          images: ['127.0.0.1:*/**'],
          authorities: [
            { name: 'ci', keyless: { identities: [{ issuer: 'https://issuer.test', subject: 'ci' }] } },
          ],
        },
      }),
    );
    const review = JSON.parse(
      readFileSync(join(REPO_ROOT, 'examples/admission/pod-unmatched.json'), 'utf8'),
    ) as { request: { object: { spec: { containers: { name: string; image: string }[] } } } };
    review.request.object.spec.containers = [
      { name: 'basic', image: `${basic.host}/team/app:v1` },
      { name: 'bearer', image: `${bearer.host}/team/app:v1` },
    ];
    const webhook = await startWebhook([
      '--log-level=trace',
      `--registry-config=${config}`,
      `--policies=${policies}`,
      `--trusted-root=${PROD_ROOT_PATH}`,
    ]);
    let answer: { status: number; body: string };
    try {
      answer = await webhook.post('/validate', JSON.stringify(review));
      await webhook.waitFor('the admission line', (r) => r.msg === 'admission');
    } finally {
      await webhook.stop();
    }
    assert.equal(answer.status, 200);
    const response = (
      JSON.parse(answer.body) as { response: { allowed: boolean; status?: { message?: string } } }
    ).response;
    assert.equal(response.allowed, false);
    // Both reads happened: the wrong password was refused, the refresh token was taken (tokens issued).
    assert.match(response.status?.message ?? '', /spec\.containers\[0\]\.image[\s\S]*REGISTRY_AUTH/);
    assert.match(response.status?.message ?? '', /spec\.containers\[1\]\.image[\s\S]*SIGNATURE_MISSING/);
    assert.ok(bearer.tokenServer?.requests.some((r) => r.account === 'carol' && r.status === 200));

    const everything = `${webhook.stdout()}\n${webhook.stderr()}\n${answer.body}`;
    for (const secret of [
      wrongPassword,
      Buffer.from(`alice:${wrongPassword}`).toString('base64'),
      refreshToken,
    ])
      assert.ok(!everything.includes(secret), `a secret reached the output: ${secret}`);
    assert.doesNotMatch(
      everything,
      /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/,
      'a bearer token reached the output',
    );
  },
);
