// The words a developer reads: the exact denial sentence, short warnings within the API server's
// limits, hostile strings neutralised, and how outcomes combine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  clip,
  combineOutcomes,
  failureMessage,
  WARNING_MAX,
  warningMessage,
} from '../../src/policy/decision.ts';
import type { PolicyResult } from '../../src/policy/decision.ts';

const site = {
  field: 'spec.containers[0].image',
  image: 'registry.example.com/apps/api:1.4.2',
  digest: `sha256:${'d'.repeat(64)}`,
};
const identityResult: PolicyResult = {
  policy: 'signed-by-ci-job',
  mode: 'enforce',
  passed: false,
  reason: 'IDENTITY_MISMATCH',
  outcome: 'deny',
  authority: 'keyless-signing-job',
  expected:
    'subject "https://kubernetes.io/namespaces/default/serviceaccounts/sign-serviceaccount" from issuer "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"',
  found:
    'subject "https://kubernetes.io/namespaces/default/serviceaccounts/attacker" from issuer "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"',
  detail: 'none of 1 signature(s) is valid',
};

test('the denial sentence: image, digest, field, policy, authority, expected and found, reason code', () => {
  assert.equal(
    failureMessage(site, identityResult),
    `image registry.example.com/apps/api:1.4.2 (digest sha256:${'d'.repeat(64)}) in spec.containers[0].image: ` +
      'policy signed-by-ci-job, authority keyless-signing-job: ' +
      'expected subject "https://kubernetes.io/namespaces/default/serviceaccounts/sign-serviceaccount" from issuer "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE", ' +
      'found subject "https://kubernetes.io/namespaces/default/serviceaccounts/attacker" from issuer "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE" [IDENTITY_MISMATCH]',
  );
});

test('without a digest, authority or policy the sentence says less, never "undefined"', () => {
  const missing: PolicyResult = {
    policy: 'team-a/images',
    mode: 'enforce',
    passed: false,
    reason: 'SIGNATURE_MISSING',
    outcome: 'deny',
    authority: 'ci',
    detail:
      'no signatures found (looked in referrers (api) and the legacy tag in registry.example.com/apps/api)',
  };
  assert.equal(
    failureMessage({ field: site.field, image: site.image }, missing),
    'image registry.example.com/apps/api:1.4.2 in spec.containers[0].image: policy team-a/images, authority ci: ' +
      'no signatures found (looked in referrers (api) and the legacy tag in registry.example.com/apps/api) [SIGNATURE_MISSING]',
  );
  const noPolicy: PolicyResult = {
    mode: 'enforce',
    passed: false,
    reason: 'NO_POLICY',
    outcome: 'deny',
    detail: 'no image policy matches index.docker.io/library/busybox (unmatched images: deny)',
  };
  assert.equal(
    failureMessage({ field: 'spec.template.spec.initContainers[1].image', image: 'busybox' }, noPolicy),
    'image busybox in spec.template.spec.initContainers[1].image: no image policy matches index.docker.io/library/busybox (unmatched images: deny) [NO_POLICY]',
  );
  assert.doesNotMatch(failureMessage(site, { ...noPolicy, policy: 'p' }), /undefined/);
});

test('warnings fit the API server limit (256) and keep the reason code', () => {
  const w = warningMessage(site, { ...identityResult, mode: 'warn', outcome: 'warn' });
  assert.ok(w.length <= WARNING_MAX, `${w.length}`);
  assert.match(
    w,
    /^image registry\.example\.com\/apps\/api:1\.4\.2 in spec\.containers\[0\]\.image: policy signed-by-ci-job \(warn\): expected subject/,
  );
  assert.match(w, /… \[IDENTITY_MISMATCH\]$/);
  const huge = warningMessage(
    { field: 'f'.repeat(5000), image: 'i'.repeat(5000) },
    { ...identityResult, policy: 'p'.repeat(5000) },
  );
  assert.ok(huge.length <= WARNING_MAX);
  assert.match(huge, /\[IDENTITY_MISMATCH\]$/);
  const short = warningMessage(site, {
    ...identityResult,
    expected: undefined,
    found: undefined,
    detail: 'no signatures found',
    reason: 'SIGNATURE_MISSING',
  });
  assert.equal(
    short,
    'image registry.example.com/apps/api:1.4.2 in spec.containers[0].image: policy signed-by-ci-job (enforce): no signatures found [SIGNATURE_MISSING]',
  );
});

test('hostile strings: control characters replaced, lengths bounded', () => {
  assert.equal(clip('a\nb\u0000c\u001b[31md\u2028', 100), 'a?b?c?[31md?');
  assert.equal(clip('abcdef', 4), 'abc…');
  const evil = failureMessage(
    { field: site.field, image: `evil\r\nX-Injected: 1${'x'.repeat(10_000)}` },
    identityResult,
  );
  assert.ok(!/[\r\n]/.test(evil));
  assert.ok(evil.length < 3000, `${evil.length}`);
});

test('outcomes combine: deny > warn > audit > allow', () => {
  assert.equal(combineOutcomes([]), 'allow');
  assert.equal(combineOutcomes(['allow', 'audit']), 'audit');
  assert.equal(combineOutcomes(['audit', 'warn', 'allow']), 'warn');
  assert.equal(combineOutcomes(['warn', 'deny', 'audit']), 'deny');
});

test('a reference that already names the verified digest is not followed by it again', () => {
  const digest = `sha256:${'d'.repeat(64)}`;
  const pinned = { field: site.field, image: `registry.example.com/apps/api@${digest}`, digest };
  assert.equal(failureMessage(pinned, identityResult).split(digest).length - 1, 1, 'the digest appears once');
  assert.match(
    failureMessage(pinned, identityResult),
    /^image registry\.example\.com\/apps\/api@sha256:d{64} in spec\.containers\[0\]\.image: policy /,
  );
  const tagged = { ...pinned, image: `registry.example.com/apps/api:1.4.2@${digest}` };
  assert.match(failureMessage(tagged, identityResult), /^image \S+:1\.4\.2@sha256:d{64} in spec/);
  // A different digest (the platform's image under a tag@index-digest reference) is still shown.
  const other = `sha256:${'e'.repeat(64)}`;
  assert.match(
    failureMessage({ ...pinned, digest: other }, identityResult),
    new RegExp(`@${digest} \\(digest ${other}\\) in spec`),
  );
});
