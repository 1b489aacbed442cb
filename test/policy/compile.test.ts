// Policy resource → CompiledPolicy, or field-path errors for the Ready condition. Every fixture of
// policy-cases.ts (shared with e2e/crds.e2e.ts) compiles, or fails on exactly the fields it names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compilePolicy,
  compileTrustRoot,
  nearestName,
  PUBLIC_GOOD,
  readyCondition,
} from '../../src/policy/compile.ts';
import { POLICY_API_VERSION } from '../../src/policy/types.ts';
import type { CompiledAuthority } from '../../src/policy/compile.ts';
import type { CertificateIdentity } from '../../src/sigstore/identity.ts';
import {
  EKS_ISSUER,
  EXAMPLE_POLICY,
  INVALID_POLICIES,
  INVALID_TRUST_ROOTS,
  SIGN_SA,
  VALID_POLICIES,
  VALID_TRUST_ROOTS,
} from './policy-cases.ts';

const id = (
  issuer: string | undefined,
  subject: string | undefined,
  extensions = {},
): CertificateIdentity => ({
  issuer,
  subject,
  subjectKind: 'uri',
  extensions,
});
const keyless = (a: CompiledAuthority | undefined) => {
  assert.ok(a !== undefined && a.kind === 'keyless');
  return a;
};

test('the issue example compiles to an immutable policy with defaults', () => {
  const { policy, errors } = compilePolicy({
    ...EXAMPLE_POLICY,
    metadata: { ...EXAMPLE_POLICY.metadata, generation: 3, uid: 'u-1' },
  });
  assert.deepEqual(errors, []);
  assert.equal(policy.valid, true);
  assert.equal(policy.kind, 'ClusterImagePolicy');
  assert.equal(policy.displayName, 'signed-by-ci-job');
  assert.equal(policy.generation, 3);
  assert.equal(policy.uid, 'u-1');
  assert.equal(policy.mode, 'enforce');
  assert.equal(policy.threshold, 1);
  assert.equal(policy.multiArch, 'digest');
  assert.deepEqual(
    policy.images.map((g) => g.normalised),
    ['registry.example.com/apps/**'],
  );
  const a = keyless(policy.authorities[0]);
  assert.equal(a.name, 'keyless-signing-job');
  assert.equal(a.trustRootRef, 'public-good');
  assert.equal(a.requireTlog, true);
  assert.equal(a.requireSct, true);
  assert.equal(a.expected, `subject "${SIGN_SA}" from issuer "${EKS_ISSUER}"`);
  assert.ok(Object.isFrozen(policy) && Object.isFrozen(policy.authorities) && Object.isFrozen(policy.images));
  assert.throws(() => {
    (policy as { mode: string }).mode = 'audit';
  }, TypeError);
});

test('every valid fixture compiles; every invalid one names exactly its fields', () => {
  for (const c of VALID_POLICIES) assert.deepEqual(compilePolicy(c.resource).errors, [], c.name);
  for (const c of VALID_TRUST_ROOTS) assert.deepEqual(compileTrustRoot(c.resource).errors, [], c.name);
  for (const c of INVALID_POLICIES) {
    const { policy, errors } = compilePolicy(c.resource);
    assert.deepEqual(
      errors.map((e) => e.field),
      c.tsFields,
      c.name,
    );
    assert.equal(policy.valid, false, c.name);
    assert.deepEqual(policy.authorities, [], `${c.name}: an invalid policy has no authorities`);
  }
  for (const c of INVALID_TRUST_ROOTS)
    assert.deepEqual(
      compileTrustRoot(c.resource).errors.map((e) => e.field),
      c.tsFields,
      c.name,
    );
});

test('compile error messages say what is wrong', () => {
  const msg = (name: string) => {
    const c = INVALID_POLICIES.find((x) => x.name.startsWith(name));
    assert.ok(c, name);
    return compilePolicy(c.resource).errors[0]?.message ?? '';
  };
  assert.match(
    msg('an invalid regular expression'),
    /invalid regular expression "https:\/\/\(unclosed": .*missing closing \)/,
  );
  assert.match(msg('an RE2-unsupported lookahead'), /invalid regular expression/);
  assert.match(msg('threshold above'), /is 2 but there are only 1 authorities/);
  assert.match(msg('both keyless and key'), /set exactly one of keyless or key/);
  assert.equal(msg('a misspelt field'), 'unknown field (did you mean `subjectRegExp`?)');
  assert.match(msg('an unknown Fulcio extension'), /unknown Fulcio extension "repository"/);
  assert.match(msg('a key that is not PEM'), /PEM public key/);
  assert.match(msg('two authorities with one name'), /duplicate authority name "ci"/);
  assert.match(msg('a glob with a tag'), /not tags/);
});

test('an invalid policy keeps its images (it still matches, to fail closed) and its mode', () => {
  const c = INVALID_POLICIES.find((x) => x.name.startsWith('an invalid regular expression'));
  assert.ok(c);
  const { policy } = compilePolicy({
    ...c.resource,
    spec: { ...(c.resource['spec'] as object), mode: 'warn' },
  });
  assert.equal(policy.valid, false);
  assert.equal(policy.mode, 'warn');
  assert.equal(policy.images.length, 1);
});

test('garbage never throws: wrong types, null, arrays, huge lists', () => {
  const garbage: unknown[] = [
    null,
    42,
    'policy',
    [],
    {},
    { apiVersion: 'v1', kind: 'Pod' },
    {
      apiVersion: 'policy.sigward.dev/v1alpha1',
      kind: 'ClusterImagePolicy',
      metadata: { name: 'x' },
      spec: null,
    },
    {
      apiVersion: 'policy.sigward.dev/v1alpha1',
      kind: 'ClusterImagePolicy',
      metadata: { name: 'x' },
      spec: { images: 'nginx', authorities: {} },
    },
    {
      apiVersion: 'policy.sigward.dev/v1alpha1',
      kind: 'ClusterImagePolicy',
      metadata: { name: 'x' },
      spec: { images: [1, null], authorities: [null, 'a', { name: 5 }], threshold: '2' },
    },
    {
      apiVersion: 'policy.sigward.dev/v1alpha1',
      kind: 'ClusterImagePolicy',
      metadata: { name: 'x' },
      spec: { images: Array(10_000).fill('**'), authorities: Array(1000).fill({}) },
    },
    {
      apiVersion: 'policy.sigward.dev/v1alpha1',
      kind: 'ClusterImagePolicy',
      metadata: { name: 'x'.repeat(100_000) },
      spec: { images: ['x'.repeat(1_000_000)] },
    },
  ];
  for (const g of garbage) {
    const { policy, errors } = compilePolicy(g);
    assert.ok(errors.length > 0, JSON.stringify(g)?.slice(0, 80));
    assert.ok(errors.length <= 100);
    assert.equal(policy.valid, false);
    for (const e of errors) assert.ok(e.field.length < 300 && e.message.length < 2000);
  }
  assert.deepEqual(
    compilePolicy(garbage[9]).errors.map((e) => e.field),
    ['spec.images', 'spec.authorities'],
  );
});

test('threshold: integer, at least 1, at most the number of authorities', () => {
  const spec = (threshold: unknown) => ({ ...EXAMPLE_POLICY, spec: { ...EXAMPLE_POLICY.spec, threshold } });
  assert.deepEqual(compilePolicy(spec(1)).errors, []);
  for (const t of [0, -1, 1.5, '1', null])
    assert.deepEqual(
      compilePolicy(spec(t)).errors.map((e) => e.field),
      ['spec.threshold'],
      String(t),
    );
});

test('ImagePolicy: namespaced display name, namespace required', () => {
  const ip = VALID_POLICIES.find((c) => c.resource['kind'] === 'ImagePolicy');
  assert.ok(ip);
  const { policy } = compilePolicy(ip.resource);
  assert.equal(policy.displayName, 'team-a/team-a-images');
  assert.equal(policy.namespace, 'team-a');
  const noNs = { ...ip.resource, metadata: { name: 'x' } };
  assert.deepEqual(
    compilePolicy(noNs).errors.map((e) => e.field),
    ['metadata.namespace'],
  );
});

test('keyless match: any identity; the closest mismatch explains; codes as sigstore/verify-candidate ranks them', () => {
  const c = VALID_POLICIES.find((x) => x.name.startsWith('warn mode'));
  assert.ok(c);
  const a = keyless(compilePolicy(c.resource).policy.authorities[0]);
  assert.equal(a.requireSct, false);
  assert.equal(a.requireTlog, false);
  assert.equal(a.trustRootRef, 'private-sigstore');
  const gh = 'https://token.actions.githubusercontent.com';
  const good = id(gh, 'https://github.com/example/app/.github/workflows/release.yml@refs/tags/v1.0.0', {
    sourceRepositoryOwnerURI: 'https://github.com/example',
    buildTrigger: 'push',
  });
  assert.deepEqual(a.match(good), { matched: true });
  assert.deepEqual(a.match(id('https://oidc.example.dev', 'ci@example.com')), { matched: true });
  const wrongRef = a.match({
    ...good,
    subject: 'https://github.com/example/app/.github/workflows/release.yml@refs/heads/main',
  });
  assert.equal(wrongRef.matched, false);
  assert.equal(!wrongRef.matched && wrongRef.code, 'IDENTITY_SUBJECT_MISMATCH');
  const wrongExt = a.match({
    ...good,
    extensions: { ...good.extensions, buildTrigger: 'workflow_dispatch' },
  });
  assert.equal(!wrongExt.matched && wrongExt.code, 'IDENTITY_EXTENSION_MISMATCH');
  const wrongIssuer = a.match(id('https://accounts.google.com', 'ci@example.com'));
  assert.equal(!wrongIssuer.matched && wrongIssuer.code, 'IDENTITY_ISSUER_MISMATCH');
  // Anchored: a prefix of an accepted subject is not accepted, nor is a longer one.
  const prefix = a.match(id('https://oidc.example.com', 'ci@example.com.evil'));
  assert.equal(!prefix.matched && prefix.code, 'IDENTITY_SUBJECT_MISMATCH');
  assert.match(a.expected, /^one of: subject matching \/\^\(\?:https:\/\/github/);
});

test('keys: PEM parsed at compile time, Secret references kept for the engine', () => {
  const c = VALID_POLICIES.find((x) => x.name.startsWith('keys'));
  assert.ok(c);
  const { policy } = compilePolicy(c.resource);
  const [inline, secret] = policy.authorities;
  assert.ok(inline?.kind === 'key' && inline.key.source === 'data');
  assert.equal(inline.key.publicKey.asymmetricKeyType, 'ec');
  assert.ok(secret?.kind === 'key' && secret.key.source === 'secret');
  assert.deepEqual(secret.key, {
    source: 'secret',
    name: 'security-team',
    namespace: 'sigward',
    key: 'cosign.pub',
  });
  assert.match(secret.expected, /Secret sigward\/security-team \(cosign\.pub\)/);
  assert.equal(policy.threshold, 2);
  assert.equal(policy.multiArch, 'all-platforms');
  assert.equal(policy.mode, 'audit');
  assert.deepEqual(policy.signatureRepository?.repository, {
    registry: 'registry.example.com',
    repository: 'signatures',
  });
  assert.equal(policy.signatureRepository?.pullSecret, 'sig-pull');
});

test('signature repository: a repository, not an image', () => {
  const spec = (repository: string) => ({
    ...EXAMPLE_POLICY,
    spec: { ...EXAMPLE_POLICY.spec, signatureRepository: { repository } },
  });
  assert.deepEqual(compilePolicy(spec('ghcr.io/o/sigs')).errors, []);
  assert.deepEqual(
    compilePolicy(spec('ghcr.io/o/sigs:v1')).errors.map((e) => e.field),
    ['spec.signatureRepository.repository'],
  );
  assert.deepEqual(
    compilePolicy(spec('ghcr.io/O/sigs')).errors.map((e) => e.field),
    ['spec.signatureRepository.repository'],
  );
});

test('trust roots: each source, and the built-in public-good', () => {
  const sources = VALID_TRUST_ROOTS.map((c) => compileTrustRoot(c.resource).trustRoot.source?.kind);
  assert.deepEqual(sources, ['public-good', 'tuf', 'inline', 'configMap']);
  const cm = compileTrustRoot(VALID_TRUST_ROOTS[3]?.resource).trustRoot.source;
  assert.deepEqual(cm, {
    kind: 'configMap',
    name: 'trusted-root',
    namespace: 'sigward',
    key: 'trusted_root.json',
  });
  assert.deepEqual(PUBLIC_GOOD.source, { kind: 'public-good' });
  assert.equal(compileTrustRoot(null).trustRoot.valid, false);
});

test('readyCondition: True/Compiled, or False/Invalid with every field path (bounded)', () => {
  const now = new Date('2026-11-24T20:00:00.123Z');
  assert.deepEqual(readyCondition([], 4, now), {
    type: 'Ready',
    status: 'True',
    reason: 'Compiled',
    message: 'compiled',
    observedGeneration: 4,
    lastTransitionTime: '2026-11-24T20:00:00Z',
  });
  const bad = readyCondition(
    [
      {
        field: 'spec.authorities[0].keyless.identities[1].subjectRegExp',
        message: 'invalid regular expression',
      },
      { field: 'spec.threshold', message: 'too big' },
    ],
    5,
    now,
  );
  assert.equal(bad.status, 'False');
  assert.equal(bad.reason, 'Invalid');
  assert.equal(
    bad.message,
    'spec.authorities[0].keyless.identities[1].subjectRegExp: invalid regular expression; spec.threshold: too big',
  );
  const many = readyCondition(
    Array.from({ length: 30 }, (_, i) => ({ field: `spec.images[${i}]`, message: 'bad' })),
    1,
    now,
  );
  assert.match(many.message, /; and 20 more$/);
});

test('a regexp cannot escape its anchors: `x)|(.*` is refused, not turned into "anything"', () => {
  const escape = {
    ...EXAMPLE_POLICY,
    spec: {
      ...EXAMPLE_POLICY.spec,
      authorities: [
        {
          name: 'ci',
          keyless: {
            identities: [{ issuer: EKS_ISSUER, subjectRegExp: 'https://github\\.com/o/r/.*)|(.*' }],
          },
        },
      ],
    },
  };
  const { policy, errors } = compilePolicy(escape);
  assert.deepEqual(
    errors.map((e) => e.field),
    ['spec.authorities[0].keyless.identities[0].subjectRegExp'],
  );
  assert.match(errors[0]?.message ?? '', /unexpected \)|missing closing/);
  assert.equal(policy.valid, false);
});

test('ImagePolicy Secrets default to, and are confined to, the policy namespace', () => {
  const ip = (secretRef: Record<string, string>) =>
    compilePolicy({
      apiVersion: 'policy.sigward.dev/v1alpha1',
      kind: 'ImagePolicy',
      metadata: { name: 'p', namespace: 'team-a' },
      spec: { images: ['**'], authorities: [{ name: 'k', key: { secretRef } }] },
    });
  const same = ip({ name: 'keys' }).policy.authorities[0];
  assert.ok(same?.kind === 'key' && same.key.source === 'secret');
  assert.equal(same.key.namespace, 'team-a');
  assert.deepEqual(ip({ name: 'keys', namespace: 'team-a' }).errors, []);
  assert.match(
    ip({ name: 'keys', namespace: 'sigward' }).errors[0]?.message ?? '',
    /only use Secrets of its own namespace \(team-a\)/,
  );
  // A ClusterImagePolicy leaves an unset namespace to the engine (sigward's own namespace).
  const cluster = compilePolicy({
    ...EXAMPLE_POLICY,
    spec: { ...EXAMPLE_POLICY.spec, authorities: [{ name: 'k', key: { secretRef: { name: 'keys' } } }] },
  }).policy.authorities[0];
  assert.ok(cluster?.kind === 'key' && cluster.key.source === 'secret');
  assert.equal(cluster.key.namespace, undefined);
});

test('an extension named __proto__ is refused, not silently dropped', () => {
  const resource = JSON.parse(
    JSON.stringify({
      ...EXAMPLE_POLICY,
      spec: {
        ...EXAMPLE_POLICY.spec,
        authorities: [
          {
            name: 'ci',
            keyless: {
              identities: [{ issuer: EKS_ISSUER, subject: SIGN_SA, extensions: { PROTO: { exact: 'x' } } }],
            },
          },
        ],
      },
    }).replace('"PROTO"', '"__proto__"'),
  );
  const { errors } = compilePolicy(resource);
  assert.deepEqual(
    errors.map((e) => e.field),
    ['spec.authorities[0].keyless.identities[0].extensions.__proto__'],
  );
});

test('over-broad identities compile, with warnings (shown in the Ready condition)', () => {
  const withIdentity = (identity: Record<string, string>) =>
    compilePolicy({
      ...EXAMPLE_POLICY,
      spec: { ...EXAMPLE_POLICY.spec, authorities: [{ name: 'ci', keyless: { identities: [identity] } }] },
    });
  const anySubject = withIdentity({ issuer: EKS_ISSUER, subjectRegExp: '.*' });
  assert.deepEqual(anySubject.errors, []);
  assert.equal(anySubject.policy.valid, true);
  assert.deepEqual(anySubject.warnings, [
    {
      field: 'spec.authorities[0].keyless.identities[0].subjectRegExp',
      message: 'accepts any subject: name who may sign (an exact subject, or a narrower expression)',
    },
  ]);
  assert.deepEqual(anySubject.policy.warnings, anySubject.warnings);
  assert.match(
    withIdentity({ issuerRegExp: 'https://.+', subject: SIGN_SA }).warnings[0]?.message ?? '',
    /accepts any issuer/,
  );
  const dots = withIdentity({ issuer: EKS_ISSUER, subjectRegExp: 'https://github.com/o/r/.+' });
  assert.deepEqual(
    dots.warnings.map((w) => w.message),
    ['"." matches any character: write \\. for a literal dot'],
  );
  assert.deepEqual(
    withIdentity({ issuer: EKS_ISSUER, subjectRegExp: 'https://github\\.com/o/r/.+' }).warnings,
    [],
  );
  assert.deepEqual(compilePolicy(EXAMPLE_POLICY).warnings, []);
  const condition = readyCondition([], 2, new Date(0), anySubject.warnings);
  assert.equal(condition.status, 'True');
  assert.equal(condition.reason, 'CompiledWithWarnings');
  assert.match(
    condition.message,
    /^compiled, with warnings: spec\.authorities\[0\]\.keyless\.identities\[0\]\.subjectRegExp: accepts any subject/,
  );
});

test('an unknown field names the known one it most likely meant, and none when nothing is close', () => {
  const policy = (spec: Record<string, unknown>) =>
    compilePolicy({ ...EXAMPLE_POLICY, spec: { ...EXAMPLE_POLICY.spec, ...spec } }).errors;
  const identity = (id: Record<string, unknown>) =>
    policy({
      authorities: [
        { name: 'ci', keyless: { identities: [{ issuer: EKS_ISSUER, subject: SIGN_SA, ...id }] } },
      ],
    });
  assert.deepEqual(identity({ subjectRegex: 'x' }), [
    {
      field: 'spec.authorities[0].keyless.identities[0].subjectRegex',
      message: 'unknown field (did you mean `subjectRegExp`?)',
    },
  ]);
  // The Ready condition (status) says the same, with the field path.
  assert.match(
    readyCondition(identity({ subjectRegex: 'x' }), 1, new Date(0)).message,
    /^spec\.authorities\[0\]\.keyless\.identities\[0\]\.subjectRegex: unknown field \(did you mean `subjectRegExp`\?\)$/,
  );
  assert.equal(identity({ issuerregexp: 'x' })[0]?.message, 'unknown field (did you mean `issuerRegExp`?)');
  assert.equal(identity({ extension: {} })[0]?.message, 'unknown field (did you mean `extensions`?)');
  assert.equal(identity({ colour: 'red' })[0]?.message, 'unknown field', 'nothing close: no guess');
  assert.deepEqual(
    policy({ threshhold: 1, authority: [] }).map((e) => [e.field, e.message]),
    [
      ['spec.threshhold', 'unknown field (did you mean `threshold`?)'],
      ['spec.authority', 'unknown field (did you mean `authorities`?)'],
    ],
  );
  const key = policy({ authorities: [{ name: 'k', key: { secretref: { name: 's' } } }] });
  assert.equal(key[0]?.field, 'spec.authorities[0].key.secretref');
  assert.equal(key[0]?.message, 'unknown field (did you mean `secretRef`?)');
  // Enumerated values too.
  assert.deepEqual(
    policy({ mode: 'Enforcing', multiArch: 'all_platforms' }).map((e) => [e.field, e.message]),
    [
      ['spec.mode', 'must be one of enforce, warn, audit (did you mean `enforce`?)'],
      ['spec.multiArch', 'must be one of digest, index, all-platforms (did you mean `all-platforms`?)'],
    ],
  );
  assert.equal(policy({ mode: 'strict' })[0]?.message, 'must be one of enforce, warn, audit');
  assert.equal(nearestName('identity', ['issuer', 'identities']), 'identities');
  assert.equal(nearestName('mutliArch', ['mode', 'multiArch']), 'multiArch', 'a transposition is one edit');
  assert.equal(nearestName('x'.repeat(200), ['images']), undefined);
  // A TrustRoot's fields too.
  const root = compileTrustRoot({
    apiVersion: POLICY_API_VERSION,
    kind: 'TrustRoot',
    metadata: { name: 'r' },
    spec: { tuf: { mirror: 'https://tuf.example', rooot: '{}' } },
  });
  assert.ok(
    root.errors.some(
      (e) => e.field === 'spec.tuf.rooot' && e.message === 'unknown field (did you mean `root`?)',
    ),
  );
});

test("a TrustRoot's TUF mirror URL with a user name and password is refused without repeating them", () => {
  const root = compileTrustRoot({
    apiVersion: POLICY_API_VERSION,
    kind: 'TrustRoot',
    metadata: { name: 'r' },
    spec: { tuf: { mirror: 'https://ci:tuf-token-0123@tuf.example', root: '{}' } },
  });
  const error = root.errors.find((e) => e.field === 'spec.tuf.mirror');
  assert.match(error?.message ?? '', /must not carry a user name or password/);
  assert.ok(!JSON.stringify(root).includes('tuf-token-0123'));
});

test('identities that accept anyone or can never match are warned about at load', () => {
  const warningsOf = (identity: Record<string, unknown>) => {
    const r = compilePolicy({
      ...EXAMPLE_POLICY,
      spec: { ...EXAMPLE_POLICY.spec, authorities: [{ name: 'ci', keyless: { identities: [identity] } }] },
    });
    assert.deepEqual(r.errors, [], JSON.stringify(identity));
    return r.warnings.map((w) => [
      w.field.replace('spec.authorities[0].keyless.identities[0].', ''),
      w.message,
    ]);
  };
  // An issuer that is not an https URL: Fulcio never names one like that.
  assert.deepEqual(warningsOf({ issuer: 'token.actions.githubusercontent.com', subject: SIGN_SA }), [
    [
      'issuer',
      'is not an https URL: Fulcio certificates name their OIDC issuer by its https URL (e.g. https://token.actions.githubusercontent.com), so this never matches',
    ],
  ]);
  assert.equal(warningsOf({ issuer: 'http://issuer.example', subject: SIGN_SA }).length, 1);
  assert.deepEqual(warningsOf({ issuerRegExp: 'https://issuer\\.example/[a-z]+', subject: SIGN_SA }), []);
  assert.deepEqual(warningsOf({ issuerRegExp: '^https://issuer\\.example/[a-z]+', subject: SIGN_SA }), []);
  assert.deepEqual(warningsOf({ issuerRegExp: 'https?://issuer\\.example', subject: SIGN_SA }), [
    ['issuerRegExp', 'does not start with https:, so it also accepts issuers that are not https URLs'],
  ]);
  assert.deepEqual(warningsOf({ issuerRegExp: '(http|https)://issuer\\.example', subject: SIGN_SA }), [
    ['issuerRegExp', 'does not start with https:, so it also accepts issuers that are not https URLs'],
  ]);
  // Any subject from one issuer: anyone who can get a token there signs for you.
  assert.match(
    String(warningsOf({ issuer: EKS_ISSUER, subjectRegExp: '.+' })[0]?.[1]),
    /^accepts any subject/,
  );
  // …unless an extension names who may sign (GitHub: the repository), then it is a choice.
  const github = 'https://token.actions.githubusercontent.com';
  assert.deepEqual(
    warningsOf({
      issuer: github,
      subjectRegExp: '.*',
      extensions: { sourceRepositoryURI: { exact: 'https://github.com/acme/app' } },
    }),
    [],
  );
  // The runner, trigger or ref alone say nothing about who: anyone on GitHub matches them.
  assert.deepEqual(
    warningsOf({
      issuer: github,
      subjectRegExp: '.*',
      extensions: {
        runnerEnvironment: { exact: 'github-hosted' },
        sourceRepositoryRef: { exact: 'refs/heads/main' },
      },
    }).map(([f]) => f),
    ['subjectRegExp'],
  );
  // An extension regexp that accepts any value constrains nothing, and does not excuse the subject.
  assert.deepEqual(
    warningsOf({
      issuer: github,
      subjectRegExp: '.*',
      extensions: { sourceRepositoryURI: { regexp: '.*' } },
    }).map(([f]) => f),
    ['subjectRegExp', 'extensions.sourceRepositoryURI.regexp'],
  );
  // A glob written as a regular expression: `/*` repeats the slash.
  assert.deepEqual(warningsOf({ issuer: github, subjectRegExp: 'https://github\\.com/acme/*' }), [
    ['subjectRegExp', '"/*" repeats the slash (a regular expression, not a glob): write "/.*" for any path'],
  ]);
  assert.deepEqual(warningsOf({ issuer: github, subjectRegExp: 'https://github\\.com/acme/.*' }), []);
});

test('a glob where a regular expression belongs (`**`, a leading `*`) is refused with what to write instead', () => {
  for (const subjectRegExp of ['**', '*@acme.example', 'https://github\\.com/acme/**']) {
    const { errors } = compilePolicy({
      ...EXAMPLE_POLICY,
      spec: {
        ...EXAMPLE_POLICY.spec,
        authorities: [{ name: 'ci', keyless: { identities: [{ issuer: EKS_ISSUER, subjectRegExp }] } }],
      },
    });
    assert.equal(errors.length, 1, subjectRegExp);
    assert.equal(errors[0]?.field, 'spec.authorities[0].keyless.identities[0].subjectRegExp');
    assert.match(
      errors[0]?.message ?? '',
      /invalid regular expression .*\(identities take regular expressions, not globs: write "\.\*" for "anything", not "\*" or "\*\*"\)$/,
      subjectRegExp,
    );
  }
});
