// policy-controller's ClusterImagePolicies read as-is: its own documented examples and e2e test data
// (test/fixtures/policy-controller/, each file naming its source) translated field by field, with a
// finding for every field sigward cannot honour, and the result compiled by sigward's compiler.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { buildSnapshot } from '../../src/kube/snapshot.ts';
import {
  anchoredRegExp,
  compilePolicyControllerPolicy,
  translateGlob,
  translatePolicyControllerPolicy,
} from '../../src/policy/policy-controller.ts';
import { policiesFor } from '../../src/policy/match.ts';
import { parseReference } from '../../src/oci/reference.ts';
import { REPO_ROOT } from '../sigstore/ext.ts';

const fixture = (name: string): unknown =>
  parse(readFileSync(join(REPO_ROOT, 'test/fixtures/policy-controller', name), 'utf8'));

const fields = (findings: readonly { field: string; severity?: string }[], severity?: string) =>
  findings.filter((f) => severity === undefined || f.severity === severity).map((f) => f.field);

describe('policy-controller documented examples', () => {
  test('release-signed-by-github-actions: converted; the digest glob names the repository (a warning)', () => {
    const { policy, findings } = translatePolicyControllerPolicy(
      fixture('release-signed-by-github-actions.yaml'),
    );
    assert.deepEqual(fields(findings, 'error'), []);
    assert.deepEqual(fields(findings, 'warning'), ['spec.images[0].glob']);
    assert.deepEqual(policy.spec?.images, ['gcr.io/projectsigstore/policy-webhook']);
    assert.deepEqual(policy.spec?.authorities?.[0], {
      name: 'authority-0',
      keyless: {
        identities: [
          {
            issuer: 'https://token.actions.githubusercontent.com',
            subject:
              'https://github.com/sigstore/policy-controller/.github/workflows/release.yaml@refs/tags/v0.3.0',
          },
        ],
      },
    });
    const compiled = compilePolicyControllerPolicy(fixture('release-signed-by-github-actions.yaml'));
    assert.equal(compiled.policy.valid, true);
    assert.equal(compiled.policy.displayName, 'image-is-signed-by-github-actions (policy.sigstore.dev)');
  });

  test('keyless attestation (CUE): invalid, naming the attestation policy; never a weaker presence-only check', () => {
    const { policy, errors } = compilePolicyControllerPolicy(fixture('cip-keyless-with-attestations.yaml'));
    assert.equal(policy.valid, false);
    assert.deepEqual(policy.authorities, []);
    assert.ok(
      errors.some(
        (e) =>
          e.field === 'spec.authorities[0].attestations[0].policy' &&
          /cue policy .* not honoured/.test(e.message),
      ),
      JSON.stringify(errors),
    );
  });

  test('attestations without a policy: the same attestation authority in sigward (found, signed, about the image)', () => {
    const resource = {
      apiVersion: 'policy.sigstore.dev/v1beta1',
      kind: 'ClusterImagePolicy',
      metadata: { name: 'must-have-sbom' },
      spec: {
        images: [{ glob: 'ghcr.io/acme/**' }],
        authorities: [
          {
            name: 'release',
            keyless: {
              url: 'https://fulcio.sigstore.dev',
              identities: [
                {
                  issuer: 'https://token.actions.githubusercontent.com',
                  subject: 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main',
                },
              ],
            },
            attestations: [
              { name: 'SBOM (SPDX)', predicateType: 'spdxjson' },
              { name: 'provenance', predicateType: 'https://slsa.dev/provenance/v1' },
            ],
          },
        ],
      },
    };
    const { policy: spec, findings } = translatePolicyControllerPolicy(resource);
    assert.deepEqual(spec.spec?.authorities?.[0]?.attestations, [
      { name: 'sbom-spdx', predicateType: 'spdxjson' },
      { name: 'provenance', predicateType: 'https://slsa.dev/provenance/v1' },
    ]);
    assert.deepEqual(fields(findings, 'error'), []);
    assert.deepEqual(fields(findings, 'warning'), ['spec.authorities[0].attestations[0].name']);
    const { policy } = compilePolicyControllerPolicy(resource);
    assert.equal(policy.valid, true, JSON.stringify(policy.errors));
    const [authority] = policy.authorities;
    assert.deepEqual(
      authority?.attestations.map((a) => [a.name, a.predicateType]),
      [
        ['sbom-spdx', 'https://spdx.dev/Document'],
        ['provenance', 'https://slsa.dev/provenance/v1'],
      ],
    );
    // Malformed entries are errors naming them.
    const broken = translatePolicyControllerPolicy({
      ...resource,
      spec: {
        ...resource.spec,
        authorities: [{ ...resource.spec.authorities[0], attestations: [{ name: 'x', typo: 1 }] }],
      },
    });
    assert.deepEqual(fields(broken.findings, 'error'), [
      'spec.authorities[0].attestations[0].typo',
      'spec.authorities[0].attestations[0].predicateType',
    ]);
  });

  test('AWS KMS key: invalid, saying how to export the key', () => {
    const { errors } = compilePolicyControllerPolicy(fixture('signed-by-aws-kms-key.yaml'));
    assert.ok(
      errors.some((e) => e.field === 'spec.authorities[0].key.kms' && /cosign public-key/.test(e.message)),
    );
  });

  test('allow-only-pods: static pass and a CUE policy are both named; the glued ** glob is rewritten', () => {
    const { findings, policy } = translatePolicyControllerPolicy(fixture('allow-only-pods.yaml'));
    assert.deepEqual(fields(findings, 'error'), ['spec.policy', 'spec.authorities[0].static']);
    assert.deepEqual(policy.spec?.images, [
      'ghcr.io/sigstore/timestamp-server*',
      'ghcr.io/sigstore/timestamp-server*/**',
    ]);
  });
});

describe('policy-controller e2e test data', () => {
  test('cip-key-no-rekor: key.data kept; "**demo**" matches what it matched there', () => {
    const { policy, errors } = compilePolicyControllerPolicy(fixture('cip-key-no-rekor.yaml'));
    assert.deepEqual(errors, []);
    assert.equal(policy.authorities[0]?.kind, 'key');
    const match = (image: string) => policiesFor([policy], parseReference(image), 'default').length === 1;
    assert.ok(match('registry.local:5000/policy-controller/demo@sha256:' + 'a'.repeat(64)));
    assert.ok(match('registry.local:5000/my-demo-app/x:1'));
    assert.ok(!match('registry.local:5000/policy-controller/other:1'));
  });

  test('private Fulcio / Rekor by URL: invalid until a TrustRoot is named (trust comes from the root, not a URL)', () => {
    const { errors } = compilePolicyControllerPolicy(fixture('cip-keyless.yaml'));
    assert.deepEqual(
      errors.map((e) => e.field),
      ['spec.authorities[0].ctlog.url', 'spec.authorities[0].keyless.url'],
    );
  });

  test('a Fulcio or Rekor URL with a user name and password is named without them', () => {
    const doc = fixture('cip-keyless.yaml') as {
      spec: { authorities: Record<string, Record<string, unknown>>[] };
    };
    doc.spec.authorities[0]!['keyless']!['url'] = 'https://ci:fulcio-pw-123@fulcio.internal';
    doc.spec.authorities[0]!['ctlog']!['url'] = 'https://ci:rekor-pw-123@rekor.internal';
    const { errors } = compilePolicyControllerPolicy(doc);
    assert.deepEqual(
      errors.map((e) => e.message.slice(0, e.message.indexOf(': '))),
      ['https://[redacted]@rekor.internal', 'https://[redacted]@fulcio.internal'],
    );
    assert.ok(!JSON.stringify(errors).includes('-pw-123'));
  });

  test('cip-keyless: the unanchored regexps keep their meaning (an open side stays open, a closed one gets .*)', () => {
    const { policy } = translatePolicyControllerPolicy(fixture('cip-keyless.yaml'));
    assert.deepEqual(policy.spec?.authorities?.[0]?.keyless?.identities, [
      {
        issuerRegExp: '.*kubernetes.default.*',
        subjectRegExp: '(?:.*kubernetes.io/namespaces/default/serviceaccounts/default).*',
      },
    ]);
  });

  test('cip-key-tsa: a TSA required on top of the log is not honoured; the TrustRoot name is kept', () => {
    const { findings, policy } = translatePolicyControllerPolicy(fixture('cip-key-tsa.yaml'));
    assert.deepEqual(fields(findings, 'error'), ['spec.authorities[0].rfc3161timestamp']);
    assert.equal(policy.spec?.authorities?.[0]?.trustRootRef, 'my-sigstore-keys');
    assert.deepEqual(policy.spec?.authorities?.[0]?.key, { secretRef: { name: 'cip-secret' } });
  });

  test('ctlog: {} with rfc3161timestamp is honoured as insecureIgnoreTlog (a TSA timestamp instead of the log)', () => {
    const doc = fixture('cip-key-tsa.yaml') as { spec: { authorities: Record<string, unknown>[] } };
    doc.spec.authorities[0]!['ctlog'] = {};
    const { findings, policy } = translatePolicyControllerPolicy(doc);
    assert.deepEqual(fields(findings, 'error'), []);
    assert.equal(policy.spec?.authorities?.[0]?.insecureIgnoreTlog, true);
  });

  test('cip-keyless-with-source: source.oci becomes the signature repository', () => {
    const { policy } = translatePolicyControllerPolicy(fixture('cip-keyless-with-source.yaml'));
    assert.deepEqual(policy.spec?.signatureRepository, {
      repository: 'registry.local:5000/policy-controller/demo',
    });
  });

  test('cip-keyless-warn: mode warn kept; no identities warns that anyone is accepted', () => {
    const { policy, findings } = translatePolicyControllerPolicy(fixture('cip-keyless-warn.yaml'));
    assert.equal(policy.spec?.mode, 'warn');
    assert.ok(fields(findings, 'warning').includes('spec.authorities[0].keyless.identities'));
  });

  test('cip-static-pass: not honoured (sigward has no unchecked admission by policy)', () => {
    const { errors } = compilePolicyControllerPolicy(fixture('cip-static-pass.yaml'));
    assert.match(errors[0]?.message ?? '', /static pass is not honoured/);
  });

  test('cip-public-keyless: the tag in the glob is dropped with a warning', () => {
    const { policy, findings } = translatePolicyControllerPolicy(fixture('cip-public-keyless.yaml'));
    assert.deepEqual(policy.spec?.images, ['ghcr.io/sigstore/cosign/cosign']);
    assert.match(findings.find((f) => f.field === 'spec.images[0].glob')?.message ?? '', /every version/);
  });
});

describe('every field is accounted for', () => {
  const base = {
    apiVersion: 'policy.sigstore.dev/v1beta1',
    kind: 'ClusterImagePolicy',
    metadata: { name: 'p' },
    spec: {
      images: [{ glob: 'ghcr.io/o/**' }],
      authorities: [{ keyless: { identities: [{ issuer: 'https://i', subject: 's' }] } }],
    },
  };
  const withSpec = (spec: Record<string, unknown>) => ({ ...base, spec: { ...base.spec, ...spec } });
  const errorsOf = (r: unknown) => compilePolicyControllerPolicy(r).errors.map((e) => e.field);

  test('unknown fields, spec.match, signatureFormat, several sources, tagPrefix, ca-cert', () => {
    assert.deepEqual(errorsOf(withSpec({ surprise: 1 })), ['spec.surprise']);
    assert.deepEqual(errorsOf(withSpec({ match: [{ resource: 'pods' }] })), []);
    assert.ok(
      compilePolicyControllerPolicy(withSpec({ match: [{}] })).warnings.some((w) => w.field === 'spec.match'),
    );
    const authority = (extra: Record<string, unknown>) =>
      withSpec({ authorities: [{ ...base.spec.authorities[0], ...extra }] });
    assert.deepEqual(errorsOf(authority({ source: [{ oci: 'a/b' }, { oci: 'c/d' }] })), [
      'spec.authorities[0].source',
    ]);
    assert.deepEqual(errorsOf(authority({ source: [{ oci: 'a/b', tagPrefix: 'x' }] })), [
      'spec.authorities[0].source[0].tagPrefix',
    ]);
    assert.deepEqual(errorsOf(authority({ signatureFormat: 'bundle' })), []);
    assert.deepEqual(
      errorsOf(
        withSpec({
          authorities: [
            { keyless: { identities: [{ issuer: 'https://i', subject: 's' }], 'ca-cert': { data: 'x' } } },
          ],
        }),
      ),
      ['spec.authorities[0].keyless.ca-cert'],
    );
    assert.deepEqual(errorsOf({ ...base, kind: 'TrustRoot' }), ['kind']);
    assert.deepEqual(errorsOf(withSpec({ mode: 'audit' })), ['spec.mode']);
  });

  test('authorities reading different signature sources cannot share one signature repository', () => {
    const a = base.spec.authorities[0]!;
    const errors = errorsOf(withSpec({ authorities: [{ ...a, source: [{ oci: 'a/b' }] }, a] }));
    assert.deepEqual(errors, ['spec.authorities']);
  });
});

describe('regexps and globs', () => {
  test('anchoring keeps the unanchored meaning', () => {
    assert.deepEqual(anchoredRegExp('^https://x$'), { pattern: 'https://x', widened: false });
    assert.deepEqual(anchoredRegExp('abc'), { pattern: '.*(?:abc).*', widened: true });
    assert.deepEqual(anchoredRegExp('^a|b$'), { pattern: '.*(?:^a|b$).*', widened: true });
    assert.deepEqual(anchoredRegExp('x\\$'), { pattern: '.*(?:x\\$).*', widened: true });
  });
  test('globs', () => {
    assert.deepEqual(translateGlob('**demo**').globs, ['**/*demo*', '**/*demo*/**']);
    assert.deepEqual(translateGlob('registry.local:5000/p/demo*').globs, ['registry.local:5000/p/demo*']);
    assert.deepEqual(translateGlob('a/b@sha256:00').globs, ['a/b']);
  });
});

describe('snapshot', () => {
  test('policy-controller resources sit beside sigward ones, marked with their group, TrustRoots refused', () => {
    const snapshot = buildSnapshot([
      fixture('cip-key-no-rekor.yaml'),
      {
        apiVersion: 'policy.sigstore.dev/v1alpha1',
        kind: 'TrustRoot',
        metadata: { name: 'public-good' },
        spec: {},
      },
    ]);
    assert.equal(snapshot.policies.length, 1);
    assert.equal(snapshot.policies[0]?.valid, true);
    const [cip, root] = snapshot.resources;
    assert.equal(cip?.apiGroup, 'policy.sigstore.dev');
    assert.equal(root?.apiGroup, 'policy.sigstore.dev');
    assert.match(root?.errors[0]?.message ?? '', /TrustRoot of policy\.sigstore\.dev is not read/);
    // The built-in public-good root is not shadowed by policy-controller's TrustRoot of that name.
    assert.equal(snapshot.trustRoots.get('public-good')?.valid, true);
  });
});
