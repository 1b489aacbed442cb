// Attestation requirements in a policy: short names resolved as cosign does, CEL conditions
// type-checked at compile time with the exact field path of a bad one in the Ready condition.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { compilePolicy, readyCondition } from '../../src/policy/compile.ts';

const policy = (attestations: unknown) => ({
  apiVersion: 'policy.sigward.dev/v1alpha1',
  kind: 'ClusterImagePolicy',
  metadata: { name: 'provenance', generation: 3 },
  spec: {
    images: ['registry.example.com/**'],
    authorities: [
      {
        name: 'release',
        keyless: { identities: [{ issuer: 'https://issuer', subject: 'release' }] },
        attestations,
      },
    ],
  },
});

test('short names map to cosign URIs; full URIs are kept; conditions compile', () => {
  const { policy: p, errors } = compilePolicy(
    policy([
      {
        name: 'provenance',
        predicateType: 'slsaprovenance1',
        conditions: ['predicate.buildDefinition.buildType != ""'],
      },
      { name: 'old-provenance', predicateType: 'slsaprovenance' },
      { name: 'sbom', predicateType: 'spdxjson' },
      { name: 'bom', predicateType: 'cyclonedx' },
      { name: 'scan', predicateType: 'vuln' },
      { name: 'vex', predicateType: 'openvex' },
      { name: 'mine', predicateType: 'custom' },
      { name: 'uri', predicateType: 'https://example.com/predicate/v1' },
    ]),
  );
  assert.deepEqual(errors, []);
  const a = p.authorities[0];
  assert.ok(a);
  assert.deepEqual(
    a.attestations.map((x) => [x.name, x.predicateType, x.conditions.length]),
    [
      ['provenance', 'https://slsa.dev/provenance/v1', 1],
      ['old-provenance', 'https://slsa.dev/provenance/v0.2', 0],
      ['sbom', 'https://spdx.dev/Document', 0],
      ['bom', 'https://cyclonedx.org/bom', 0],
      ['scan', 'https://cosign.sigstore.dev/attestation/vuln/v1', 0],
      ['vex', 'https://openvex.dev/ns', 0],
      ['mine', 'https://cosign.sigstore.dev/attestation/v1', 0],
      ['uri', 'https://example.com/predicate/v1', 0],
    ],
  );
  assert.equal(compilePolicy(policy(undefined)).policy.authorities[0]?.attestations.length, 0);
});

test('a bad condition is a field-path error in the Ready condition, and the policy is invalid', () => {
  const { policy: p, errors } = compilePolicy(
    policy([
      { name: 'provenance', predicateType: 'slsaprovenance1', conditions: ['true'] },
      { name: 'scan', predicateType: 'vuln', conditions: ['now > 5', 'predicate.scanner.uri =='] },
    ]),
  );
  assert.equal(p.valid, false);
  assert.deepEqual(
    errors.map((e) => e.field),
    [
      'spec.authorities[0].attestations[1].conditions[0]',
      'spec.authorities[0].attestations[1].conditions[1]',
    ],
  );
  assert.match(errors[0]!.message, /^does not compile: no such overload: google\.protobuf\.Timestamp > int/);
  const ready = readyCondition(errors, 3, new Date(0));
  assert.equal(ready.status, 'False');
  assert.match(
    ready.message,
    /^spec\.authorities\[0\]\.attestations\[1\]\.conditions\[0\]: does not compile: /,
  );
});

test('names, predicate types and list shapes are checked', () => {
  const cases: [unknown, string, RegExp][] = [
    [
      [{ name: 'a', predicateType: 'slsa' }],
      'spec.authorities[0].attestations[0].predicateType',
      /must be a URI or one of slsaprovenance, slsaprovenance1/,
    ],
    [[{ name: 'Bad_Name', predicateType: 'vuln' }], 'spec.authorities[0].attestations[0].name', /DNS name/],
    [
      [
        { name: 'a', predicateType: 'vuln' },
        { name: 'a', predicateType: 'spdxjson' },
      ],
      'spec.authorities[0].attestations[1].name',
      /duplicate attestation name "a"/,
    ],
    [[{ predicateType: 'vuln' }], 'spec.authorities[0].attestations[0].name', /must be a string/],
    [
      [{ name: 'a', predicateType: 'vuln', conditions: [] }],
      'spec.authorities[0].attestations[0].conditions',
      /must not be empty/,
    ],
    [
      [{ name: 'a', predicateType: 'vuln', conditions: [42] }],
      'spec.authorities[0].attestations[0].conditions[0]',
      /must be a string/,
    ],
    [
      [{ name: 'a', predicateType: 'vuln', policy: 'cue' }],
      'spec.authorities[0].attestations[0].policy',
      /unknown field/,
    ],
    [[], 'spec.authorities[0].attestations', /must not be empty/],
    ['x', 'spec.authorities[0].attestations', /must be a list/],
  ];
  for (const [attestations, field, message] of cases) {
    const { errors } = compilePolicy(policy(attestations));
    const e = errors.find((x) => x.field === field);
    assert.ok(e, `${JSON.stringify(attestations)}: no error on ${field}: ${JSON.stringify(errors)}`);
    assert.match(e.message, message);
  }
});

test('the README / examples provenance policy compiles without errors or warnings', () => {
  const text = readFileSync(
    new URL('../../examples/policies/provenance-from-main.yaml', import.meta.url),
    'utf8',
  );
  const { policy: p, errors, warnings } = compilePolicy(parse(text));
  assert.deepEqual(errors, []);
  assert.deepEqual(warnings, []);
  assert.deepEqual(
    p.authorities[0]?.attestations.map((a) => [a.predicateType, a.conditions.length]),
    [['https://slsa.dev/provenance/v1', 4]],
  );
});
