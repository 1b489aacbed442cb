// The identity matcher: exact and RE2 regular expressions, always anchored, linear time; named
// Fulcio extensions; readable mismatches; compile errors that name the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileIdentity, IDENTITY_SPEC_INVALID, matchIdentity } from '../../src/policy/identity.ts';
import type { IdentitySpec } from '../../src/policy/identity.ts';
import type { CertificateIdentity } from '../../src/sigstore/identity.ts';

const K8S_ISSUER = 'https://kubernetes.default.svc';
const sa = (name: string): CertificateIdentity => ({
  issuer: K8S_ISSUER,
  subject: `https://kubernetes.io/namespaces/prod/serviceaccounts/${name}`,
  subjectKind: 'uri',
  extensions: { issuer: K8S_ISSUER, tokenSubject: `system:serviceaccount:prod:${name}` },
});
const gh: CertificateIdentity = {
  issuer: 'https://token.actions.githubusercontent.com',
  subject: 'https://github.com/o/r/.github/workflows/release.yml@refs/tags/v1.2.3',
  subjectKind: 'uri',
  extensions: {
    issuer: 'https://token.actions.githubusercontent.com',
    sourceRepositoryURI: 'https://github.com/o/r',
    sourceRepositoryRef: 'refs/tags/v1.2.3',
    githubWorkflowTrigger: 'push',
  },
};
const match = (spec: IdentitySpec, id: CertificateIdentity) => matchIdentity(compileIdentity(spec), id);

function compileFails(spec: IdentitySpec, field: string, message: RegExp): void {
  assert.throws(
    () => compileIdentity(spec, 'spec.authorities[0].keyless.identities[0]'),
    (e: { code?: string; details?: { field?: string }; message?: string }) => {
      assert.equal(e.code, IDENTITY_SPEC_INVALID);
      assert.equal(e.details?.field, `spec.authorities[0].keyless.identities[0].${field}`);
      assert.match(e.message ?? '', message);
      return true;
    },
  );
}

test('exact issuer and subject match', () => {
  assert.deepEqual(match({ issuer: K8S_ISSUER, subject: sa('sa').subject }, sa('sa')), { matched: true });
});

test('an exact subject is a string compare, not a pattern: "." is not a wildcard, prefixes do not match', () => {
  const r = match(
    { issuer: K8S_ISSUER, subject: 'https://kubernetes.io/namespaces/prod/serviceaccounts/s' },
    sa('sa'),
  );
  assert.equal(r.matched, false);
  assert.ok(!r.matched);
  assert.match(r.reason, /^subject: expected ".*serviceaccounts\/s", found ".*serviceaccounts\/sa"$/);
  assert.equal(
    match({ issuer: 'https://kubernetes.default.sv.', subject: sa('sa').subject! }, sa('sa')).matched,
    false,
  );
});

test('regular expressions are anchored: …/serviceaccounts/s does not match …/serviceaccounts/sa', () => {
  const spec = {
    issuer: K8S_ISSUER,
    subjectRegExp: 'https://kubernetes\\.io/namespaces/prod/serviceaccounts/s',
  };
  const r = match(spec, sa('sa'));
  assert.ok(!r.matched);
  assert.match(
    r.reason,
    /expected a value matching \/\^\(\?:https:\/\/kubernetes.*\/s\)\$\/, found ".*\/sa"/,
  );
  assert.equal(match(spec, sa('s')).matched, true);
  // Nor does a pattern match in the middle of the value, or with an alternation escaping the anchor.
  assert.equal(match({ issuer: K8S_ISSUER, subjectRegExp: 'serviceaccounts/sa' }, sa('sa')).matched, false);
  assert.equal(match({ issuer: K8S_ISSUER, subjectRegExp: 'nomatch|https://.*' }, sa('sa')).matched, true);
  assert.equal(match({ issuer: K8S_ISSUER, subjectRegExp: 'https://x|nomatch' }, sa('sa')).matched, false);
  assert.equal(match({ issuerRegExp: 'https://kubernetes', subjectRegExp: '.*' }, sa('sa')).matched, false);
});

test('a catastrophic-backtracking pattern gives the right answer (RE2 runs in linear time)', () => {
  const long = `${'a'.repeat(100_000)}!`;
  const id: CertificateIdentity = { issuer: K8S_ISSUER, subject: long, subjectKind: 'uri', extensions: {} };
  assert.equal(match({ issuer: K8S_ISSUER, subjectRegExp: '(a+)+$' }, id).matched, false);
  assert.equal(match({ issuer: K8S_ISSUER, subjectRegExp: '(a|aa)*!' }, id).matched, true);
  assert.equal(match({ issuer: K8S_ISSUER, subjectRegExp: '(a*)*b' }, id).matched, false);
});

test('Perl-only syntax (backreferences, lookahead) is refused at compile time with the field', () => {
  compileFails(
    { issuer: K8S_ISSUER, subjectRegExp: '(a)\\1' },
    'subjectRegExp',
    /invalid regular expression/,
  );
  compileFails({ issuerRegExp: '(?=x)', subject: 's' }, 'issuerRegExp', /invalid regular expression/);
  compileFails({ issuer: K8S_ISSUER, subjectRegExp: '(' }, 'subjectRegExp', /missing closing \)/);
});

test('the spec needs exactly one of each pair, non-empty, and known extension names', () => {
  compileFails({ subject: 's' }, 'issuer', /one of .*issuer or .*issuerRegExp is required/);
  compileFails({ issuer: 'i' }, 'subject', /required/);
  compileFails({ issuer: 'i', issuerRegExp: 'i', subject: 's' }, 'issuer', /not both/);
  compileFails({ issuer: '', subject: 's' }, 'issuer', /empty/);
  compileFails({ issuer: 'i', subjectRegExp: '' }, 'subjectRegExp', /empty/);
  compileFails(
    { issuer: 'i', subject: 's', extensions: { repo: { exact: 'x' } } },
    'extensions.repo',
    /unknown Fulcio extension "repo"/,
  );
  compileFails(
    { issuer: 'i', subject: 's', extensions: { sourceRepositoryRef: { regexp: '[' } } },
    'extensions.sourceRepositoryRef.regexp',
    /invalid regular expression/,
  );
});

test('issuer mismatch is reported first, with expected and found', () => {
  const r = match({ issuer: 'https://accounts.google.com', subject: gh.subject! }, gh);
  assert.deepEqual(r, {
    matched: false,
    reason:
      'issuer: expected "https://accounts.google.com", found "https://token.actions.githubusercontent.com"',
  });
});

test('named Fulcio extensions: exact and anchored regexp, missing extension is a mismatch', () => {
  const base = { issuer: gh.issuer!, subjectRegExp: 'https://github\\.com/o/r/.+' };
  assert.equal(
    match(
      {
        ...base,
        extensions: {
          sourceRepositoryURI: { exact: 'https://github.com/o/r' },
          sourceRepositoryRef: { regexp: 'refs/tags/v.*' },
        },
      },
      gh,
    ).matched,
    true,
  );
  const wrong = match(
    { ...base, extensions: { sourceRepositoryURI: { exact: 'https://github.com/o/r2' } } },
    gh,
  );
  assert.deepEqual(wrong, {
    matched: false,
    reason:
      'certificate extension sourceRepositoryURI: expected "https://github.com/o/r2", found "https://github.com/o/r"',
  });
  assert.equal(
    match({ ...base, extensions: { sourceRepositoryRef: { regexp: 'refs/tags' } } }, gh).matched,
    false,
  );
  const missing = match({ ...base, extensions: { runnerEnvironment: { exact: 'github-hosted' } } }, gh);
  assert.ok(!missing.matched);
  assert.match(missing.reason, /runnerEnvironment: expected "github-hosted", found none/);
  assert.equal(
    match({ ...base, extensions: { githubWorkflowTrigger: { exact: 'push' } } }, gh).matched,
    true,
  );
});

test('an identity without subject or issuer never matches, even ".*"', () => {
  const none: CertificateIdentity = {
    issuer: undefined,
    subject: undefined,
    subjectKind: undefined,
    extensions: {},
  };
  const r = match({ issuerRegExp: '.*', subjectRegExp: '.*' }, none);
  assert.deepEqual(r, { matched: false, reason: 'issuer: expected a value matching /^(?:.*)$/, found none' });
});

test('every Fulcio extension name of sigstore/identity is accepted by the matcher', async () => {
  const { FULCIO_EXTENSION_NAMES } = await import('../../src/sigstore/identity.ts');
  for (const name of [...FULCIO_EXTENSION_NAMES, 'toString', '__proto__']) {
    const known = (FULCIO_EXTENSION_NAMES as readonly string[]).includes(name);
    const compile = (): unknown =>
      compileIdentity({ issuer: 'i', subject: 's', extensions: { [name]: { exact: 'x' } } });
    if (known) assert.doesNotThrow(compile, name);
    else assert.throws(compile, { code: IDENTITY_SPEC_INVALID });
  }
});
