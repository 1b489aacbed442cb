// docs/policy-reference.md stays true to the CRDs: every field of ClusterImagePolicy, ImagePolicy and
// TrustRoot (the CRD schemas, which test/policy/crd-schema.test.ts keeps equal to compile.ts's fields)
// is named there, every Fulcio extension too, and every example resource in it compiles with no error
// and no warning. A field added to a CRD without a line in the reference fails here.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { compilePolicy, compileTrustRoot } from '../../src/policy/compile.ts';
import { FULCIO_EXTENSION_NAMES } from '../../src/sigstore/identity.ts';
import { REPO_ROOT } from '../sigstore/ext.ts';

const reference = readFileSync(join(REPO_ROOT, 'docs/policy-reference.md'), 'utf8');

interface Schema {
  properties?: Record<string, Schema>;
  items?: Schema;
}

/** Every field path of a CRD's schema, lists written `[]`: `spec.authorities[].keyless.identities`. */
function fieldPaths(file: string): string[] {
  const crd = parse(readFileSync(join(REPO_ROOT, 'charts/sigward/crds', file), 'utf8')) as {
    spec: { versions: Array<{ schema: { openAPIV3Schema: Schema } }> };
  };
  const paths: string[] = [];
  const walk = (schema: Schema, at: string): void => {
    for (const [name, child] of Object.entries(schema.properties ?? {})) {
      const path = at === '' ? name : `${at}.${name}`;
      paths.push(path);
      walk(child, path);
    }
    if (schema.items !== undefined) walk(schema.items, `${at}[]`);
  };
  walk(crd.spec.versions[0]!.schema.openAPIV3Schema, '');
  return paths;
}

// The Fulcio extensions are one row each in their own table; their fields are the generic `<name>` rows.
const EXTENSION = /\.extensions\.([A-Za-z0-9]+)(\.(exact|regexp))?$/;

test('every field of the three CRDs is named in docs/policy-reference.md', () => {
  const missing: string[] = [];
  for (const file of ['clusterimagepolicies.yaml', 'imagepolicies.yaml', 'trustroots.yaml']) {
    const paths = fieldPaths(file);
    assert.ok(paths.length > 15, `${file}: ${paths.length} fields`);
    for (const path of paths) {
      const extension = EXTENSION.exec(path);
      const named = extension
        ? reference.includes(`| \`${extension[1]}\` |`) &&
          reference.includes(`\`${path.replace(EXTENSION, '.extensions.<name>$2')}\``)
        : reference.includes(`\`${path}\``);
      if (!named) missing.push(`${file}: ${path}`);
    }
  }
  assert.deepEqual(missing, [], 'fields without a line in docs/policy-reference.md');
});

test('every Fulcio extension sigward matches on has a row, and no row names one it does not know', () => {
  const rows = [...reference.matchAll(/^\| `([A-Za-z0-9]+)` \| \.\d+/gm)].map((m) => m[1]);
  assert.deepEqual([...rows].sort(), [...FULCIO_EXTENSION_NAMES].sort());
});

test('every example resource in the reference compiles with no error and no warning', () => {
  const blocks = [...reference.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const kinds: string[] = [];
  for (const block of blocks) {
    const resource = parse(block) as { kind: string; metadata: { name: string } };
    kinds.push(resource.kind);
    if (resource.kind === 'TrustRoot') {
      assert.deepEqual(compileTrustRoot(resource).errors, [], resource.metadata.name);
      continue;
    }
    const { errors, warnings } = compilePolicy(resource);
    assert.deepEqual([...errors, ...warnings], [], resource.metadata.name);
  }
  assert.deepEqual([...new Set(kinds)].sort(), ['ClusterImagePolicy', 'ImagePolicy', 'TrustRoot']);
});
