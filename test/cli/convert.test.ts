// `sigward convert` as a migrating team runs it on policy-controller's own examples: the real
// `bin/sigward`, the output parsed back and compiled by sigward, and nothing written that would be a
// weaker policy than the original.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments, stringify } from 'yaml';
import { compilePolicy } from '../../src/policy/compile.ts';
import { REPO_ROOT } from '../sigstore/ext.ts';

const FIXTURES = join(REPO_ROOT, 'test/fixtures/policy-controller');

function convert(
  args: readonly string[],
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(join(REPO_ROOT, 'bin/sigward'), ['convert', ...args], (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }),
    );
    child.stdin?.end(stdin ?? '');
  });
}

test('a policy sigward honours: written as a sigward ClusterImagePolicy that compiles, exit 0', async () => {
  const r = await convert([join(FIXTURES, 'release-signed-by-github-actions.yaml')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^# warning spec\.images\[0\]\.glob: names a version/m);
  const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as unknown);
  assert.equal(docs.length, 1);
  const { policy, errors } = compilePolicy(docs[0]);
  assert.deepEqual(errors, []);
  assert.equal(policy.name, 'image-is-signed-by-github-actions');
  assert.equal(policy.authorities[0]?.kind, 'keyless');
});

test('policies with fields sigward cannot honour: commented out with every reason, exit 1', async () => {
  const r = await convert([FIXTURES]);
  assert.equal(r.code, 1);
  // Only the honoured policies are live YAML; every other one is comments only.
  const live = parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as { metadata?: { name?: string } } | null)
    .filter((d) => d !== null);
  assert.deepEqual(
    live.map((d) => d.metadata?.name),
    ['image-policy-key', 'demo', 'image-is-signed-by-github-actions'],
  );
  assert.match(
    r.stdout,
    /^# NOT CONVERTED: image-policy-keyless-with-attestations .*\n# sigward convert: .*\n# error spec\.authorities\[0\]\.attestations\[0\]\.policy: /m,
  );
  assert.match(r.stdout, /^# error spec\.authorities\[0\]\.key\.kms: KMS keys are not read by sigward/m);
  assert.match(r.stderr, /image-policy-static-pass NOT converted/);
});

test('--output json lists each policy with its errors and warnings; a missing file exits 2', async () => {
  const r = await convert(['--output', 'json', join(FIXTURES, 'cip-static-pass.yaml')]);
  assert.equal(r.code, 1);
  const [one] = JSON.parse(r.stdout) as { name: string; converted: boolean; errors: { field: string }[] }[];
  assert.equal(one?.converted, false);
  assert.deepEqual(
    one?.errors.map((e) => e.field),
    ['spec.authorities[0].static', 'spec.authorities'],
  );
  const missing = await convert([join(FIXTURES, 'nope.yaml')]);
  assert.equal(missing.code, 2);
});

test('`kubectl get … -o yaml | sigward convert -`: a List on stdin, each item converted', async () => {
  const item = (name: string) => ({
    apiVersion: 'policy.sigstore.dev/v1beta1',
    kind: 'ClusterImagePolicy',
    metadata: { name, uid: `uid-${name}`, resourceVersion: '7', generation: 1 },
    spec: {
      images: [{ glob: 'ghcr.io/o/**' }],
      authorities: [{ keyless: { identities: [{ issuer: 'https://i.example', subject: `s-${name}` }] } }],
    },
    status: { conditions: [{ type: 'Ready', status: 'True' }] },
  });
  const r = await convert(
    ['-'],
    stringify({ apiVersion: 'v1', kind: 'List', items: [item('a'), item('b')] }),
  );
  assert.equal(r.code, 0, r.stderr);
  const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as { metadata: Record<string, unknown> });
  // New objects to apply: the name and where they came from, never the original's uid or generation.
  assert.deepEqual(
    docs.map((d) => d.metadata),
    ['a', 'b'].map((name) => ({
      name,
      annotations: { 'sigward.dev/converted-from': `policy.sigstore.dev/v1beta1 ClusterImagePolicy ${name}` },
    })),
  );
  for (const d of docs) assert.deepEqual(compilePolicy(d).errors, []);
});

test('only sigward policies, or nothing a policy: exit 2 saying there is nothing to convert, nothing on stdout', async () => {
  const sigward = stringify({
    apiVersion: 'policy.sigward.dev/v1alpha1',
    kind: 'ClusterImagePolicy',
    metadata: { name: 'already-sigward' },
    spec: { images: [{ glob: '**' }], authorities: [{ name: 'a', key: { data: 'x' } }] },
  });
  const r = await convert(['-'], sigward);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.match(
    r.stderr,
    /sigward convert: nothing to convert: no policy\.sigstore\.dev resource in the input \(1 of the 1 document\(s\) are already sigward resources \(policy\.sigward\.dev\): apply them as they are\)\n$/,
  );
  const other = await convert(['--output', 'json', '-'], stringify({ apiVersion: 'v1', kind: 'ConfigMap' }));
  assert.equal(other.code, 2);
  assert.equal(other.stdout, '');
  assert.match(
    other.stderr,
    /nothing to convert: .*\(1 document\(s\) read, none of them a policy-controller ClusterImagePolicy\)/,
  );
});
