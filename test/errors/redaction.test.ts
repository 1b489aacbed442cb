// One redaction rule (errors.ts redactSecrets) for every message built from outside text: a program's
// output (exec-credentials), a cloud SDK's error (cloud), a registry's error body (oci) and a Sigstore
// service's answer (signer). Each place is shown cutting a token-like run and keeping what reads as words.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactSecrets, redactUrlCredentials } from '../../src/errors.ts';
import { safeFailure } from '../../src/cloud/exchange-cache.ts';
import { safeExcerpt } from '../../src/exec-credentials/run-program.ts';
import { registryErrorOf } from '../../src/oci/registry-errors.ts';
import { scrub } from '../../src/signer/errors.ts';

// 20 characters: shorter than the 32 the cloud errors used to need, no `token=` before it.
const token = 'AKd93jfQ0pZx7Lm2Qa9B';
const digest = `sha256:${'ab12'.repeat(16)}`;
const words =
  'not authorized to perform ecr:GetAuthorizationToken (AWS_ROLE_ARN, serviceaccount/token, v2, 123456789012)';

test('redactSecrets: opaque runs, named credentials, JWTs and given secrets go; words, paths, digests stay', () => {
  assert.equal(redactSecrets(`refused ${token} for ${digest}`), `refused [redacted] for ${digest}`);
  assert.equal(redactSecrets(words), words);
  const paths =
    'cannot read /tmp/sigward-cli-kCCgxy/no-token-here nor arn:aws:sts::1:assumed-role/my-role/i-0abc123';
  assert.equal(redactSecrets(paths), paths);
  assert.equal(redactSecrets('Basic authentication required'), 'Basic authentication required');
  assert.equal(
    redactSecrets('sent Bearer abcd1234, password: hunter22'),
    'sent Bearer [redacted], password: [redacted]',
  );
  assert.equal(redactSecrets('id eyJhbGciOi.eyJzdWIiOi.sig'), 'id [redacted-jwt]');
  assert.equal(redactSecrets('my pw is short1x!', ['short1x!']), 'my pw is [redacted]');
  assert.equal(redactSecrets('ghp_aB3dE6gH9jK2mN5pQ8sT'), '[redacted]');
  assert.equal(redactSecrets(`0f8fad5b-d9cb-469f-a165-70e7b4cb6e82`), '[redacted]');
});

test("redactUrlCredentials: a URL's user name and password go (up to its last @), the rest of the text stays", () => {
  assert.equal(
    redactUrlCredentials('GET https://alice:p@ss-w0rd@tuf.example:8443/2.root.json?x=1 failed'),
    'GET https://[redacted]@tuf.example:8443/2.root.json?x=1 failed',
  );
  const plain = `https://tuf.example/a@b and ghcr.io/o/app@${digest}`;
  assert.equal(redactUrlCredentials(plain), plain);
  assert.equal(redactSecrets('from http://bob:pw@mirror.test'), 'from http://[redacted]@mirror.test');
});

test('a quoted value under a credential name goes whatever it holds; JSON keys and other fields stay', () => {
  assert.equal(
    redactSecrets('{"Username":"bob","Secret":"P@ss!w0rd","password": "x\\"y z", "identitytoken":"abc"}'),
    '{"Username":"bob","Secret":"[redacted]","password": "[redacted]", "identitytoken":"[redacted]"}',
  );
  assert.equal(redactSecrets(`token="short1" kept="words here"`), 'token="[redacted]" kept="words here"');
});

test('cloud: a provider error keeps its words and cuts a 20-character token', () => {
  const failure = safeFailure(new Error(`${words}; the token ${token} expired`));
  assert.equal(failure.message, `${words}; the token [redacted] expired`);
});

test('exec-credentials: a program message keeps its words and cuts the token', () => {
  assert.equal(safeExcerpt(`progress\nerror: ${words}: ${token}\n`), `error: ${words}: [redacted]`);
});

test('oci: a registry error body keeps its words and cuts a token it echoed without a name', () => {
  const body = Buffer.from(
    JSON.stringify({ errors: [{ code: 'DENIED', message: `denied ${token} for ${digest}` }] }),
  );
  assert.deepEqual(registryErrorOf(body), { code: 'DENIED', message: `denied [redacted] for ${digest}` });
});

test('signer: a service answer keeps its words and cuts any token, not only JWTs and the ones sent', () => {
  assert.equal(scrub(`rekor: entry refused, key ${token}`, []), 'rekor: entry refused, key [redacted]');
});
