// The CRD YAML and the TypeScript compile step describe one shape. A small structural OpenAPI v3
// checker (types, required, unknown fields, enums, patterns, sizes; CEL rules are for the real
// apiserver in e2e/crds.e2e.ts) runs every fixture: valid ones pass both, invalid ones marked
// `openapi` are refused by both. The schema's fields and compile's fields are the same set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { compilePolicy, compileTrustRoot } from '../../src/policy/compile.ts';
import { FULCIO_EXTENSION_NAMES } from '../../src/sigstore/identity.ts';
import { MULTI_ARCH_RULES, POLICY_MODES } from '../../src/policy/types.ts';
import {
  INVALID_POLICIES,
  INVALID_TRUST_ROOTS,
  PUBLIC_KEY_PEM,
  VALID_POLICIES,
  VALID_TRUST_ROOTS,
} from './policy-cases.ts';

interface Schema {
  type?: string;
  required?: string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  enum?: unknown[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minimum?: number;
  maximum?: number;
  maxProperties?: number;
  default?: unknown;
  'x-kubernetes-validations'?: Array<{ rule: string; message: string }>;
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
}

interface Crd {
  kind: string;
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string; shortNames?: string[] };
    versions: Array<{
      name: string;
      served: boolean;
      storage: boolean;
      subresources?: { status?: object };
      additionalPrinterColumns?: Array<{ name: string; jsonPath: string; type: string }>;
      schema: { openAPIV3Schema: Schema };
    }>;
  };
}

const load = (file: string): Crd =>
  parse(readFileSync(new URL(`../../charts/sigward/crds/${file}`, import.meta.url), 'utf8')) as Crd;
const CRDS = {
  ClusterImagePolicy: load('clusterimagepolicies.yaml'),
  ImagePolicy: load('imagepolicies.yaml'),
  TrustRoot: load('trustroots.yaml'),
};
const schemaOf = (kind: keyof typeof CRDS): Schema => {
  const v = CRDS[kind].spec.versions[0];
  assert.ok(v);
  return v.schema.openAPIV3Schema;
};

/** Structural OpenAPI errors (no CEL): `path: what`. */
function validate(schema: Schema, value: unknown, path = ''): string[] {
  const at = path === '' ? '<root>' : path;
  const errors: string[] = [];
  const t = schema.type;
  if (t === 'object') {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      return [`${at}: must be an object`];
    const o = value as Record<string, unknown>;
    for (const r of schema.required ?? []) if (o[r] === undefined) errors.push(`${path}.${r}: required`);
    if (schema.maxProperties !== undefined && Object.keys(o).length > schema.maxProperties)
      errors.push(`${at}: too many properties`);
    if (schema.properties !== undefined && path !== '.metadata') {
      for (const [k, v] of Object.entries(o)) {
        const sub = schema.properties[k];
        if (sub === undefined) errors.push(`${path}.${k}: unknown field`);
        else errors.push(...validate(sub, v, `${path}.${k}`));
      }
    }
  } else if (t === 'array') {
    if (!Array.isArray(value)) return [`${at}: must be a list`];
    if (schema.minItems !== undefined && value.length < schema.minItems)
      errors.push(`${at}: at least ${schema.minItems} items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems)
      errors.push(`${at}: at most ${schema.maxItems} items`);
    value.forEach((v, i) => errors.push(...(schema.items ? validate(schema.items, v, `${path}[${i}]`) : [])));
  } else if (t === 'string') {
    if (typeof value !== 'string') return [`${at}: must be a string`];
    if (schema.minLength !== undefined && value.length < schema.minLength) errors.push(`${at}: too short`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) errors.push(`${at}: too long`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value))
      errors.push(`${at}: pattern`);
  } else if (t === 'integer') {
    if (typeof value !== 'number' || !Number.isInteger(value)) return [`${at}: must be an integer`];
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${at}: below minimum`);
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${at}: above maximum`);
  } else if (t === 'boolean') {
    if (typeof value !== 'boolean') return [`${at}: must be a boolean`];
  }
  if (schema.enum !== undefined && !schema.enum.includes(value)) errors.push(`${at}: unsupported value`);
  return errors;
}

const kindOf = (r: Record<string, unknown>) => r['kind'] as keyof typeof CRDS;

test('every valid fixture passes the CRD schema and compile', () => {
  for (const c of [...VALID_POLICIES, ...VALID_TRUST_ROOTS]) {
    assert.deepEqual(validate(schemaOf(kindOf(c.resource)), c.resource), [], c.name);
    const errors =
      kindOf(c.resource) === 'TrustRoot'
        ? compileTrustRoot(c.resource).errors
        : compilePolicy(c.resource).errors;
    assert.deepEqual(errors, [], c.name);
  }
});

test('fixtures marked openapi are refused by the schema at the field compile names', () => {
  for (const c of [...INVALID_POLICIES, ...INVALID_TRUST_ROOTS].filter((x) => x.openapi === true)) {
    const errors = validate(schemaOf(kindOf(c.resource)), c.resource);
    assert.ok(errors.length > 0, c.name);
    assert.ok(
      errors.some((e) => e.startsWith(`.${c.tsFields[0]}:`)),
      `${c.name}: ${errors.join(', ')} vs ${c.tsFields.join(', ')}`,
    );
  }
});

test('fixtures only compile can judge pass the schema (so they reach the status condition)', () => {
  for (const c of [...INVALID_POLICIES, ...INVALID_TRUST_ROOTS].filter((x) => x.layer === 'status'))
    assert.deepEqual(validate(schemaOf(kindOf(c.resource)), c.resource), [], c.name);
});

/** Every property path of a schema below `spec`, with `[]` for list items. */
function paths(schema: Schema, prefix: string): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(schema.properties ?? {})) {
    const p = `${prefix}.${k}`;
    out.push(p);
    out.push(...paths(v.type === 'array' && v.items ? v.items : v, v.type === 'array' ? `${p}[]` : p));
  }
  return out;
}
function valuePaths(value: unknown, prefix: string): string[] {
  if (Array.isArray(value)) return value.flatMap((v) => valuePaths(v, `${prefix}[]`));
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([k, v]) => [`${prefix}.${k}`, ...valuePaths(v, `${prefix}.${k}`)]);
}

test('schema and compile know the same fields: a policy using every schema field passes both', () => {
  const everything = {
    apiVersion: 'policy.sigward.dev/v1alpha1',
    kind: 'ClusterImagePolicy',
    metadata: { name: 'everything' },
    spec: {
      images: ['registry.example.com/**'],
      mode: 'warn',
      threshold: 2,
      multiArch: 'index',
      signatureRepository: { repository: 'registry.example.com/sigs', pullSecretRef: { name: 'pull' } },
      authorities: [
        {
          name: 'keyless',
          trustRootRef: 'public-good',
          insecureIgnoreTlog: false,
          keyless: {
            insecureIgnoreSCT: false,
            identities: [
              {
                issuer: 'https://issuer',
                subject: 'someone',
                extensions: Object.fromEntries(FULCIO_EXTENSION_NAMES.map((n) => [n, { exact: 'x' }])),
              },
              {
                issuerRegExp: 'https://.*',
                subjectRegExp: '.+',
                extensions: { buildTrigger: { regexp: 'push' } },
              },
            ],
          },
        },
        {
          name: 'inline-key',
          key: { data: PUBLIC_KEY_PEM },
          attestations: [
            {
              name: 'provenance',
              predicateType: 'slsaprovenance1',
              conditions: ['predicate.buildDefinition.externalParameters.workflow.ref == "refs/heads/main"'],
            },
          ],
        },
        { name: 'secret-key', key: { secretRef: { name: 's', namespace: 'n', key: 'k' } } },
      ],
    },
  };
  const schema = schemaOf('ClusterImagePolicy');
  assert.deepEqual(validate(schema, everything), []);
  assert.deepEqual(compilePolicy(everything).errors, []);
  const specSchema = schema.properties?.['spec'];
  assert.ok(specSchema);
  // Extension names are checked against FULCIO_EXTENSION_NAMES below; here any name stands for all.
  const anyExtension = (p: string) => p.replace(/\.extensions\.[A-Za-z0-9]+/, '.extensions.*');
  const schemaPaths = new Set(paths(specSchema, 'spec').map(anyExtension));
  const used = new Set(valuePaths(everything.spec, 'spec').map(anyExtension));
  assert.deepEqual(
    [...schemaPaths].filter((p) => !used.has(p)),
    [],
    'schema fields the fixture does not use',
  );
  assert.deepEqual(
    [...used].filter((p) => !schemaPaths.has(p)),
    [],
    'fixture fields the schema does not know',
  );
});

test('enums and extension names come from the TypeScript lists', () => {
  const spec = schemaOf('ClusterImagePolicy').properties?.['spec']?.properties ?? {};
  assert.deepEqual(spec['mode']?.enum, [...POLICY_MODES]);
  assert.deepEqual(spec['multiArch']?.enum, [...MULTI_ARCH_RULES]);
  assert.equal(spec['mode']?.default, 'enforce');
  assert.equal(spec['threshold']?.default, 1);
  assert.equal(spec['multiArch']?.default, 'digest');
  const identity = spec['authorities']?.items?.properties?.['keyless']?.properties?.['identities']?.items;
  assert.deepEqual(
    Object.keys(identity?.properties?.['extensions']?.properties ?? {}).sort(),
    [...FULCIO_EXTENSION_NAMES].sort(),
  );
  assert.deepEqual(spec['authorities']?.['x-kubernetes-list-map-keys'], ['name']);
});

test('ClusterImagePolicy and ImagePolicy share one spec schema; scopes, status, columns', () => {
  assert.deepEqual(
    schemaOf('ImagePolicy').properties?.['spec'],
    schemaOf('ClusterImagePolicy').properties?.['spec'],
  );
  assert.equal(CRDS.ClusterImagePolicy.spec.scope, 'Cluster');
  assert.equal(CRDS.ImagePolicy.spec.scope, 'Namespaced');
  assert.equal(CRDS.TrustRoot.spec.scope, 'Cluster');
  for (const [kind, crd] of Object.entries(CRDS)) {
    assert.equal(crd.kind, 'CustomResourceDefinition');
    assert.equal(crd.spec.group, 'policy.sigward.dev');
    assert.equal(crd.spec.names.kind, kind);
    assert.equal(crd.metadata.name, `${crd.spec.names.plural}.policy.sigward.dev`);
    const v = crd.spec.versions[0];
    assert.ok(v && v.name === 'v1alpha1' && v.served && v.storage);
    assert.deepEqual(v.subresources, { status: {} });
    const columns = (v.additionalPrinterColumns ?? []).map((c) => c.name);
    assert.deepEqual(
      columns,
      kind === 'TrustRoot'
        ? ['Ready', 'Reason', 'Refreshed', 'Refresh', 'Age']
        : ['Mode', 'Ready', 'Reason', 'Age'],
    );
    const status = v.schema.openAPIV3Schema.properties?.['status']?.properties;
    assert.ok(status?.['observedGeneration'] && status['conditions']);
  }
});

test('the CEL rules named in the issue are present (their behaviour is checked in e2e/crds.e2e.ts)', () => {
  const text = ['clusterimagepolicies.yaml', 'trustroots.yaml']
    .map((f) => readFileSync(new URL(`../../charts/sigward/crds/${f}`, import.meta.url), 'utf8'))
    .join('\n');
  for (const rule of [
    'has(self.keyless) != has(self.key)',
    'has(self.subject) != has(self.subjectRegExp)',
    'has(self.issuer) != has(self.issuerRegExp)',
    'has(self.data) != has(self.secretRef)',
    'self.threshold <= size(self.authorities)',
    "self.metadata.name != 'public-good' || has(self.spec.publicGood)",
  ])
    assert.ok(text.includes(rule), rule);
});
