// Deciding one image: authorities OR'd up to a threshold of DISTINCT authorities, every matching policy
// AND'd, the mode applied, errors capped by the global setting (never an allow), no match → the
// global `unmatched` setting; and the adapter from sigstore/verify-image verdicts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePolicy } from '../../src/policy/compile.ts';
import type { CompiledPolicy } from '../../src/policy/compile.ts';
import { authorityOutcomes, evaluateImage, reasonFor } from '../../src/policy/evaluate.ts';
import type {
  AuthorityOutcome,
  EvaluationSettings,
  ImageEvaluation,
  VerdictLike,
} from '../../src/policy/evaluate.ts';
import { ReasonCode } from '../../src/policy/decision.ts';
import { policiesFor } from '../../src/policy/match.ts';
import { EKS_ISSUER, EXAMPLE_POLICY, PUBLIC_KEY_PEM, SIGN_SA } from './policy-cases.ts';

const DIGEST = `sha256:${'d'.repeat(64)}`;
const IMAGE = 'registry.example.com/apps/api:1.4.2';
const FIELD = 'spec.containers[0].image';

function policy(name: string, spec: Record<string, unknown> = {}): CompiledPolicy {
  const { policy, errors } = compilePolicy({
    ...EXAMPLE_POLICY,
    metadata: { name },
    spec: { ...EXAMPLE_POLICY.spec, ...spec },
  });
  if (spec['authorities'] !== 'invalid') assert.deepEqual(errors, [], name);
  return policy;
}
const keyAuthority = (name: string) => ({ name, key: { data: PUBLIC_KEY_PEM } });
const three = {
  authorities: [keyAuthority('alice'), keyAuthority('bob'), keyAuthority('carol')],
};

const ok = (authority: string): AuthorityOutcome => ({
  authority,
  verified: true,
  code: 'VERIFIED',
  message: '1 of 1 signature(s) verified',
});
const no = (
  authority: string,
  code = 'NO_SIGNATURES',
  message = 'no signatures found',
): AuthorityOutcome => ({
  authority,
  verified: false,
  code,
  message,
});
const input = (
  policies: ImageEvaluation['policies'],
  extra: Partial<ImageEvaluation> = {},
): ImageEvaluation => ({
  field: FIELD,
  image: IMAGE,
  digest: DIGEST,
  policies,
  ...extra,
});
const strict: EvaluationSettings = { unmatched: 'deny', errors: 'deny' };

test('one authority verified: allowed', () => {
  const p = policy('p');
  const d = evaluateImage(input([{ policy: p, outcomes: [ok('keyless-signing-job')] }]), strict);
  assert.equal(d.outcome, 'allow');
  assert.deepEqual(d.results, [
    {
      policy: 'p',
      mode: 'enforce',
      passed: true,
      reason: 'VERIFIED',
      outcome: 'allow',
      detail: 'verified by keyless-signing-job',
    },
  ]);
  assert.equal(d.digest, DIGEST);
});

test('threshold counts distinct authorities, not signatures', () => {
  const p = policy('two-of-three', { ...three, threshold: 2 });
  const decide = (outcomes: AuthorityOutcome[]) => evaluateImage(input([{ policy: p, outcomes }]), strict);
  assert.equal(decide([ok('alice'), ok('bob'), no('carol')]).outcome, 'allow');
  assert.equal(decide([ok('alice'), ok('bob'), ok('carol')]).outcome, 'allow');
  // Two signatures by alice (two outcomes) are still one authority.
  const once = decide([ok('alice'), ok('alice'), no('bob'), no('carol')]);
  assert.equal(once.outcome, 'deny');
  assert.equal(once.results[0]?.reason, ReasonCode.thresholdNotMet);
  assert.match(
    once.results[0]?.detail ?? '',
    /^1 of 2 required distinct authorities verified \(passed: alice\); bob: no signatures found; expected a signature by the public key of authority bob$/,
  );
  const none = decide([no('alice'), no('bob'), no('carol')]);
  assert.equal(none.results[0]?.reason, ReasonCode.thresholdNotMet);
  assert.match(
    none.results[0]?.detail ?? '',
    /^0 of 2 required distinct authorities verified \(none passed\)/,
  );
  // An outcome for an authority the policy does not have never counts.
  assert.equal(decide([ok('alice'), ok('mallory'), no('bob'), no('carol')]).outcome, 'deny');
  // A verified duplicate wins over a failed one for the same authority.
  assert.equal(decide([no('alice'), ok('alice'), ok('bob'), no('carol')]).outcome, 'allow');
});

test('SIGNATURE_MISSING says whose signature would have done (keyless identity, or the key)', () => {
  const keyless = evaluateImage(
    input([{ policy: policy('p'), outcomes: [no('keyless-signing-job')] }]),
    strict,
  );
  assert.equal(keyless.results[0]?.reason, ReasonCode.signatureMissing);
  assert.equal(
    keyless.results[0]?.detail,
    `no signatures found; expected a signature by subject "${SIGN_SA}" from issuer "${EKS_ISSUER}"`,
  );
  const key = evaluateImage(
    input([{ policy: policy('k', { authorities: [keyAuthority('alice')] }), outcomes: [no('alice')] }]),
    strict,
  );
  assert.equal(
    key.results[0]?.detail,
    'no signatures found; expected a signature by the public key of authority alice',
  );
  // Other refusals keep their own words: a broken signature says what is wrong with it.
  const broken = evaluateImage(
    input([
      { policy: policy('p'), outcomes: [no('keyless-signing-job', 'SIGSTORE_SIGNATURE_INVALID', 'bad')] },
    ]),
    strict,
  );
  assert.equal(broken.results[0]?.detail, 'bad');
});

test('threshold 1 with several authorities: OR', () => {
  const p = policy('any-of-three', three);
  assert.equal(
    evaluateImage(input([{ policy: p, outcomes: [no('alice'), no('bob'), ok('carol')] }]), strict).outcome,
    'allow',
  );
});

test('a missing outcome is an internal error, never a pass', () => {
  const p = policy('p', three);
  const d = evaluateImage(input([{ policy: p, outcomes: [] }]), strict);
  assert.equal(d.outcome, 'deny');
  assert.equal(d.results[0]?.reason, ReasonCode.internalError);
  assert.equal(d.results[0]?.detail, 'no verification outcome for this authority');
});

test('several policies: ALL must pass', () => {
  const a = policy('a');
  const b = policy('b');
  const pass = { policy: a, outcomes: [ok('keyless-signing-job')] };
  const fail = { policy: b, outcomes: [no('keyless-signing-job')] };
  assert.equal(evaluateImage(input([pass, { ...pass, policy: b }]), strict).outcome, 'allow');
  const d = evaluateImage(input([pass, fail]), strict);
  assert.equal(d.outcome, 'deny');
  assert.deepEqual(
    d.results.map((r) => [r.policy, r.passed]),
    [
      ['a', true],
      ['b', false],
    ],
  );
});

test('modes: enforce denies, warn warns, audit audits; the strongest wins', () => {
  const fail = (mode: string, name = mode) => ({
    policy: policy(name, { mode }),
    outcomes: [no('keyless-signing-job')],
  });
  assert.equal(evaluateImage(input([fail('enforce')]), strict).outcome, 'deny');
  assert.equal(evaluateImage(input([fail('warn')]), strict).outcome, 'warn');
  assert.equal(evaluateImage(input([fail('audit')]), strict).outcome, 'audit');
  assert.equal(evaluateImage(input([fail('audit'), fail('warn')]), strict).outcome, 'warn');
  assert.equal(evaluateImage(input([fail('warn'), fail('enforce')]), strict).outcome, 'deny');
  const passedWarn = { policy: policy('w', { mode: 'warn' }), outcomes: [ok('keyless-signing-job')] };
  assert.equal(evaluateImage(input([passedWarn]), strict).outcome, 'allow');
});

test('errors: could-have-passed is an error (capped by the setting), could-not is a definite failure', () => {
  const p = policy('two-of-three', { ...three, threshold: 2 });
  const timeout = (a: string) =>
    no(a, 'REGISTRY_TIMEOUT', 'registry failure while looking for its signatures');
  // alice verified, bob timed out: bob could have made it → TIMEOUT.
  const d1 = evaluateImage(
    input([{ policy: p, outcomes: [ok('alice'), timeout('bob'), no('carol')] }]),
    strict,
  );
  assert.equal(d1.results[0]?.reason, ReasonCode.timeout);
  assert.equal(d1.outcome, 'deny', 'fail closed by default');
  const soft = evaluateImage(input([{ policy: p, outcomes: [ok('alice'), timeout('bob'), no('carol')] }]), {
    unmatched: 'deny',
    errors: 'warn',
  });
  assert.equal(soft.outcome, 'warn');
  const audit = evaluateImage(input([{ policy: p, outcomes: [ok('alice'), timeout('bob'), no('carol')] }]), {
    unmatched: 'deny',
    errors: 'audit',
  });
  assert.equal(audit.outcome, 'audit');
  // Nothing verified and only one error: even if bob had passed, 1 < 2 → definite failure, not softened.
  const d2 = evaluateImage(input([{ policy: p, outcomes: [no('alice'), timeout('bob'), no('carol')] }]), {
    unmatched: 'deny',
    errors: 'warn',
  });
  assert.equal(d2.results[0]?.reason, ReasonCode.thresholdNotMet);
  assert.equal(d2.outcome, 'deny');
  // The errors setting never makes a warn policy stronger.
  const warnPolicy = policy('w', { mode: 'warn' });
  const d3 = evaluateImage(
    input([{ policy: warnPolicy, outcomes: [timeout('keyless-signing-job')] }]),
    strict,
  );
  assert.equal(d3.outcome, 'warn');
});

test('a failure before verification (deadline, tag resolution) applies to every policy with its code', () => {
  const d = evaluateImage(
    input(
      [
        { policy: policy('a'), outcomes: [ok('keyless-signing-job')] },
        { policy: policy('b', { mode: 'audit' }) },
      ],
      {
        failure: { code: 'DEADLINE_EXCEEDED', message: 'the 2.5 s deadline ran out before a verdict' },
      },
    ),
    strict,
  );
  assert.deepEqual(
    d.results.map((r) => [r.reason, r.outcome]),
    [
      ['TIMEOUT', 'deny'],
      ['TIMEOUT', 'audit'],
    ],
  );
  const perPolicy = evaluateImage(
    input([
      { policy: policy('a'), failure: { code: 'SIGSTORE_TRUST_ROOT_UNAVAILABLE', message: 'TUF down' } },
    ]),
    strict,
  );
  assert.equal(perPolicy.results[0]?.reason, ReasonCode.trustRootError);
});

test('no policy matched: the unmatched setting decides', () => {
  for (const unmatched of ['allow', 'audit', 'warn', 'deny'] as const) {
    const d = evaluateImage(input([]), { unmatched, errors: 'deny' });
    assert.equal(d.outcome, unmatched);
    assert.equal(d.results[0]?.reason, ReasonCode.noPolicy);
    assert.equal(d.results[0]?.policy, undefined);
    assert.equal(d.results[0]?.passed, unmatched === 'allow');
  }
});

test('no policy matched: the detail names the repository the globs were matched against', () => {
  const hub = evaluateImage(input([], { image: 'nginx:1.27' }), { unmatched: 'deny', errors: 'deny' });
  assert.equal(
    hub.results[0]?.detail,
    'no image policy matches index.docker.io/library/nginx (unmatched images: deny)',
  );
  // A registry alias is named as policies see it (ghcr.io:443 is ghcr.io).
  const alias = evaluateImage(input([], { image: 'ghcr.io:443/o/app@sha256:' + 'a'.repeat(64) }), {
    unmatched: 'warn',
    errors: 'deny',
  });
  assert.equal(alias.results[0]?.detail, 'no image policy matches ghcr.io/o/app (unmatched images: warn)');
});

test('an unreadable image reference is denied even when unmatched images are allowed', () => {
  const d = evaluateImage(
    input([], {
      image: 'Not A Ref',
      failure: { code: 'REFERENCE_INVALID', message: 'invalid image reference' },
    }),
    {
      unmatched: 'allow',
      errors: 'audit',
    },
  );
  assert.equal(d.outcome, 'deny');
  assert.equal(d.results[0]?.reason, ReasonCode.imageInvalid);
});

test('an invalid policy fails its images closed, in its own mode', () => {
  const bad = compilePolicy({
    ...EXAMPLE_POLICY,
    metadata: { name: 'bad' },
    spec: {
      ...EXAMPLE_POLICY.spec,
      authorities: [{ name: 'x', keyless: { identities: [{ issuer: 'i', subjectRegExp: '(' }] } }],
    },
  }).policy;
  const d = evaluateImage(input([{ policy: bad, outcomes: [ok('x')] }]), strict);
  assert.equal(d.outcome, 'deny');
  assert.equal(d.results[0]?.reason, ReasonCode.policyInvalid);
  assert.match(
    d.results[0]?.detail ?? '',
    /^the policy is invalid: spec\.authorities\[0\]\.keyless\.identities\[0\]\.subjectRegExp: invalid regular expression/,
  );
});

test('identity mismatch: expected from the policy, found from the certificate', () => {
  const p = policy('signed-by-ci-job');
  const other = 'https://kubernetes.io/namespaces/default/serviceaccounts/attacker';
  const d = evaluateImage(
    input([
      {
        policy: p,
        outcomes: [
          {
            authority: 'keyless-signing-job',
            verified: false,
            code: 'IDENTITY_SUBJECT_MISMATCH',
            message: `none of 1 signature(s) is valid: subject: expected "${SIGN_SA}", found "${other}"`,
            found: { kind: 'certificate', issuer: EKS_ISSUER, subject: other },
          },
        ],
      },
    ]),
    strict,
  );
  const r = d.results[0];
  assert.equal(r?.reason, ReasonCode.identityMismatch);
  assert.equal(r?.expected, `subject "${SIGN_SA}" from issuer "${EKS_ISSUER}"`);
  assert.equal(r?.found, `subject "${other}" from issuer "${EKS_ISSUER}"`);
  assert.equal(r?.cause, 'IDENTITY_SUBJECT_MISMATCH');
});

test('the most telling failure is reported: a wrong signer beats a missing signature', () => {
  const p = policy('p', three);
  const d = evaluateImage(
    input([
      {
        policy: p,
        outcomes: [no('alice'), no('bob', 'SIGSTORE_KEY_UNTRUSTED', 'signed with another key'), no('carol')],
      },
    ]),
    strict,
  );
  assert.equal(d.results[0]?.reason, ReasonCode.keyMismatch);
  assert.equal(d.results[0]?.authority, 'bob');
});

test('reasonFor maps every layer onto the stable categories', () => {
  const cases: Array<[string, string]> = [
    ['NO_SIGNATURES', 'SIGNATURE_MISSING'],
    ['PLATFORM_NOT_SIGNED', 'PLATFORM_NOT_SIGNED'],
    ['INDEX_DOES_NOT_LIST_IMAGE', 'INDEX_MISMATCH'],
    ['IDENTITY_ISSUER_MISMATCH', 'ISSUER_MISMATCH'],
    ['IDENTITY_SUBJECT_MISMATCH', 'IDENTITY_MISMATCH'],
    ['IDENTITY_EXTENSION_MISMATCH', 'IDENTITY_MISMATCH'],
    ['SIGSTORE_SIGNATURE_INVALID', 'SIGNATURE_INVALID'],
    ['SIGSTORE_BUNDLE_MALFORMED', 'SIGNATURE_INVALID'],
    ['SIGSTORE_CONTENT_MISMATCH', 'SIGNATURE_INVALID'],
    ['SIGSTORE_KEY_UNTRUSTED', 'KEY_MISMATCH'],
    ['SIGSTORE_CERTIFICATE_UNTRUSTED', 'CERTIFICATE_UNTRUSTED'],
    ['SIGSTORE_TLOG_INVALID', 'TLOG_INVALID'],
    ['SIGSTORE_TIMESTAMP_INVALID', 'TLOG_INVALID'],
    ['SIGSTORE_TRUST_ROOT_UNAVAILABLE', 'TRUST_ROOT_ERROR'],
    ['SIGSTORE_KEY_MALFORMED', 'POLICY_INVALID'],
    ['REGISTRY_UNAUTHORIZED', 'REGISTRY_AUTH'],
    ['REGISTRY_DENIED', 'REGISTRY_AUTH'],
    ['REGISTRY_TIMEOUT', 'TIMEOUT'],
    ['REGISTRY_ABORTED', 'TIMEOUT'],
    ['REGISTRY_UNAVAILABLE', 'REGISTRY_ERROR'],
    ['REGISTRY_RATE_LIMITED', 'REGISTRY_ERROR'],
    ['REFERENCE_INVALID', 'IMAGE_INVALID'],
    ['TIMEOUT', 'TIMEOUT'],
    ['SOMETHING_NEW', 'INTERNAL_ERROR'],
  ];
  for (const [code, reason] of cases) assert.equal(reasonFor(code), reason, code);
});

const certificate = (subject: string) => ({ kind: 'certificate' as const, issuer: EKS_ISSUER, subject });
const loc = { location: 'referrers' };

test('authorityOutcomes: a single-authority verdict maps exactly', () => {
  const verified: VerdictLike = {
    status: 'verified',
    code: 'VERIFIED',
    message: '1 of 1 signature(s) verified',
    signatures: [{ ...loc, verified: true, authorities: ['ci'], signer: certificate(SIGN_SA) }],
  };
  assert.deepEqual(authorityOutcomes(verified, ['ci']), [
    { authority: 'ci', verified: true, code: 'VERIFIED', message: '1 of 1 signature(s) verified' },
  ]);
  const mismatch: VerdictLike = {
    status: 'rejected',
    code: 'IDENTITY_SUBJECT_MISMATCH',
    message: 'none of 1 signature(s) is valid: subject: …',
    signatures: [
      {
        ...loc,
        verified: false,
        code: 'IDENTITY_SUBJECT_MISMATCH',
        reason: 'subject: …',
        signer: certificate('someone-else'),
      },
    ],
  };
  assert.deepEqual(authorityOutcomes(mismatch, ['ci']), [
    {
      authority: 'ci',
      verified: false,
      code: 'IDENTITY_SUBJECT_MISMATCH',
      message: 'none of 1 signature(s) is valid: subject: …',
      found: certificate('someone-else'),
    },
  ]);
  const registry: VerdictLike = {
    status: 'error',
    code: 'REGISTRY_UNAVAILABLE',
    message: 'registry failure …',
    signatures: [],
  };
  assert.equal(authorityOutcomes(registry, ['ci'])[0]?.code, 'REGISTRY_UNAVAILABLE');
  const unsigned: VerdictLike = {
    status: 'unsigned',
    code: 'NO_SIGNATURES',
    message: 'no signatures found',
    signatures: [],
  };
  assert.equal(authorityOutcomes(unsigned, ['ci'])[0]?.verified, false);
});

test('authorityOutcomes: several authorities are credited by the signatures they verified', () => {
  const v: VerdictLike = {
    status: 'verified',
    code: 'VERIFIED',
    message: '2 of 3 signature(s) verified',
    signatures: [
      { ...loc, verified: true, authorities: ['alice'], signer: { kind: 'key' } },
      { ...loc, verified: true, authorities: ['alice'], signer: { kind: 'key' } },
      { ...loc, verified: false, code: 'SIGSTORE_KEY_UNTRUSTED', reason: 'other key' },
    ],
  };
  const outcomes = authorityOutcomes(v, ['alice', 'bob']);
  assert.deepEqual(
    outcomes.map((o) => [o.authority, o.verified]),
    [
      ['alice', true],
      ['bob', false],
    ],
  );
  const p = policy('two', { authorities: [keyAuthority('alice'), keyAuthority('bob')], threshold: 2 });
  assert.equal(evaluateImage(input([{ policy: p, outcomes }]), strict).outcome, 'deny');
});

test('authorityOutcomes: every platform must be signed by the authority; an index signature counts', () => {
  const platform = (authority?: string): VerdictLike => ({
    status: authority ? 'verified' : 'unsigned',
    code: authority ? 'VERIFIED' : 'NO_SIGNATURES',
    message: '',
    signatures: authority
      ? [{ ...loc, verified: true, authorities: [authority], signer: { kind: 'key' } }]
      : [],
  });
  const all: VerdictLike = {
    status: 'rejected',
    code: 'PLATFORM_NOT_SIGNED',
    message: 'platform linux/arm64 …',
    signatures: [],
    platforms: [platform('alice'), platform()],
  };
  assert.deepEqual(
    authorityOutcomes(all, ['alice', 'bob']).map((o) => [o.verified, o.code]),
    [
      [false, 'PLATFORM_NOT_SIGNED'],
      [false, 'PLATFORM_NOT_SIGNED'],
    ],
  );
  const both: VerdictLike = {
    ...all,
    status: 'verified',
    code: 'VERIFIED',
    platforms: [platform('alice'), platform('alice')],
  };
  assert.deepEqual(
    authorityOutcomes(both, ['alice', 'bob']).map((o) => o.verified),
    [true, false],
  );
  const viaIndex: VerdictLike = {
    status: 'verified',
    code: 'VERIFIED',
    message: 'signed through the index',
    signatures: [],
    index: platform('bob'),
  };
  assert.deepEqual(
    authorityOutcomes(viaIndex, ['alice', 'bob']).map((o) => o.verified),
    [false, true],
  );
});

test('a policy with a bad images entry claims every image while invalid: POLICY_INVALID naming the field, not NO_POLICY', () => {
  const { policy: bad, errors } = compilePolicy({
    ...EXAMPLE_POLICY,
    metadata: { name: 'typo' },
    spec: {
      ...EXAMPLE_POLICY.spec,
      images: ['registry.example.com/apps/**', 'registry.example.com/Team/**'],
    },
  });
  assert.deepEqual(
    errors.map((e) => e.field),
    ['spec.images[1]'],
  );
  assert.match(errors[0]?.message ?? '', /lower-case.*claims every image and fails it with POLICY_INVALID/);
  // An image neither glob names (the typo might have meant it) is still claimed by the invalid policy.
  const other = 'ghcr.io/someone/else:1';
  assert.deepEqual(
    policiesFor([bad], other, 'default').map((p) => p.name),
    ['typo'],
  );
  const d = evaluateImage(input([{ policy: bad }], { image: other }), { unmatched: 'warn', errors: 'deny' });
  assert.equal(d.outcome, 'deny');
  assert.equal(d.results[0]?.reason, ReasonCode.policyInvalid);
  assert.match(
    d.results[0]?.detail ?? '',
    /: spec\.images\[1\]: invalid image glob "registry\.example\.com\/Team\/\*\*"/,
  );
});

test('a key authority whose key verifies no signature says which key it expected', () => {
  const secretKeyed = policy('keyed', {
    authorities: [{ name: 'release-key', key: { secretRef: { name: 'release-key', namespace: 'sigward' } } }],
  });
  const d = evaluateImage(
    input([
      {
        policy: secretKeyed,
        outcomes: [
          no(
            'release-key',
            'SIGSTORE_SIGNATURE_INVALID',
            'none of 1 signature(s) is valid: signature does not verify: signature verification failed',
          ),
        ],
      },
    ]),
    strict,
  );
  assert.equal(d.results[0]?.reason, ReasonCode.signatureInvalid);
  assert.equal(
    d.results[0]?.detail,
    'none of 1 signature(s) is valid: signature does not verify: signature verification failed; ' +
      'expected a signature by the public key in Secret sigward/release-key (cosign.pub)',
  );

  // A ClusterImagePolicy's Secret without a namespace lives in sigward's own: the denial says so.
  const ownNamespace = policy('own-namespace', {
    authorities: [{ name: 'release-key', key: { secretRef: { name: 'release-key' } } }],
  });
  assert.equal(
    (ownNamespace.authorities[0] as { expected?: string }).expected,
    "a signature by the public key in Secret release-key (cosign.pub) in sigward's namespace",
  );

  // Signed with a key where a certificate was required: the identity it wanted.
  const keyless = policy('keyless');
  const wrongKind = evaluateImage(
    input([
      {
        policy: keyless,
        outcomes: [
          no(
            'keyless-signing-job',
            'SIGSTORE_KEY_UNTRUSTED',
            'a certificate (keyless) was expected, but the bundle was signed with a key',
          ),
        ],
      },
    ]),
    strict,
  );
  assert.equal(wrongKind.results[0]?.reason, ReasonCode.keyMismatch);
  assert.equal(
    wrongKind.results[0]?.detail,
    'a certificate (keyless) was expected, but the bundle was signed with a key; ' +
      `expected a signature by subject "${SIGN_SA}" from issuer "${EKS_ISSUER}"`,
  );

  // A keyless signature that does not verify is not about whose it is: no expectation added.
  const broken = evaluateImage(
    input([
      {
        policy: keyless,
        outcomes: [no('keyless-signing-job', 'SIGSTORE_SIGNATURE_INVALID', 'signature does not verify')],
      },
    ]),
    strict,
  );
  assert.equal(broken.results[0]?.detail, 'signature does not verify');
});

test('a certificate or log proof that does not verify names the TrustRoot it was checked against', () => {
  const pinned = policy('private', {
    authorities: [
      {
        name: 'private-ci',
        trustRootRef: 'private-sigstore',
        keyless: { identities: [{ issuer: EKS_ISSUER, subject: SIGN_SA }] },
      },
    ],
  });
  for (const [code, message] of [
    ['SIGSTORE_CERTIFICATE_UNTRUSTED', 'none of 1 signature(s) is valid: certificate is not trusted'],
    ['SIGSTORE_TLOG_INVALID', 'none of 1 signature(s) is valid: transparency log check failed'],
  ] as const) {
    const d = evaluateImage(input([{ policy: pinned, outcomes: [no('private-ci', code, message)] }]), strict);
    assert.equal(d.results[0]?.detail, `${message}; checked against TrustRoot private-sigstore`, code);
  }
  // The default TrustRoot is named too: a policy that forgot trustRootRef reads `public-good`.
  const d = evaluateImage(
    input([
      {
        policy: policy('default-root'),
        outcomes: [no('keyless-signing-job', 'SIGSTORE_CERTIFICATE_UNTRUSTED', 'certificate is not trusted')],
      },
    ]),
    strict,
  );
  assert.equal(d.results[0]?.detail, 'certificate is not trusted; checked against TrustRoot public-good');
});
