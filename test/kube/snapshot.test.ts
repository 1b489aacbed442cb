// The policy snapshot: compiled once, a generation that changes with any spec (not with status
// writes), field-path errors per resource; a policy directory re-read on change; pull secrets from the
// pod and its service account with a brief cache and no secret in any report.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { CoreApi } from '../../src/kube/client/apis.ts';
import { KubeApiError } from '../../src/kube/client/errors.ts';
import { buildSnapshot } from '../../src/kube/snapshot.ts';
import { FilePolicySource, readPolicyDirectory } from '../../src/kube/file-source.ts';
import { PullSecretKeychains } from '../../src/kube/pull-secrets.ts';
import { SAMPLE_POLICIES } from '../../src/cli/webhook.ts';
import { clusterPolicy, kubewardenAuthority } from '../engine/harness.ts';

describe('snapshot', () => {
  test('generation follows specs, not status; errors carry field paths', () => {
    const p = clusterPolicy('p', ['ghcr.io/o/**'], [kubewardenAuthority()]);
    const a = buildSnapshot([p]);
    const withStatus = buildSnapshot([{ ...p, status: { observedGeneration: 1, conditions: [] } }]);
    assert.equal(a.generation, withStatus.generation);
    const edited = buildSnapshot([
      clusterPolicy('p', ['ghcr.io/o/**'], [kubewardenAuthority('other')], {}, 2),
    ]);
    assert.notEqual(a.generation, edited.generation);
    const bad = buildSnapshot([
      clusterPolicy(
        'bad',
        ['ghcr.io/o/**'],
        [{ name: 'x', keyless: { identities: [{ issuer: 'i', subjectRegExp: '(' }] } }],
      ),
    ]);
    assert.equal(bad.policies[0]?.valid, false);
    assert.match(
      bad.resources[0]?.errors[0]?.field ?? '',
      /^spec\.authorities\[0\]\.keyless\.identities\[0\]\.subjectRegExp$/,
    );
    assert.ok(bad.trustRoots.has('public-good'));
    const broad = buildSnapshot([
      clusterPolicy(
        'broad',
        ['ghcr.io/o/**'],
        [{ name: 'x', keyless: { identities: [{ issuer: 'https://i', subjectRegExp: '.*' }] } }],
      ),
    ]);
    assert.equal(broad.policies[0]?.valid, true);
    assert.ok(
      (broad.resources[0]?.warnings ?? []).length > 0,
      'an identity that accepts anyone is flagged for the status',
    );
  });

  test('the sample policies compile', () => {
    const snapshot = buildSnapshot(readPolicyDirectory(SAMPLE_POLICIES));
    assert.ok(snapshot.policies.length >= 1);
    assert.deepEqual(
      snapshot.resources.flatMap((r) => r.errors),
      [],
    );
  });

  test('a policy directory is re-read: an edit makes a new generation, a broken file keeps the old one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sigward-policies-'));
    const yaml = (subject: string) =>
      `apiVersion: policy.sigward.dev/v1alpha1\nkind: ClusterImagePolicy\nmetadata:\n  name: p\nspec:\n  images: ["ghcr.io/o/**"]\n  authorities:\n    - name: a\n      keyless:\n        identities:\n          - issuer: https://issuer\n            subject: ${subject}\n`;
    writeFileSync(join(dir, 'p.yaml'), yaml('one'));
    const errors: unknown[] = [];
    const source = new FilePolicySource(dir, { failed: (e) => errors.push(e) });
    const first = source.current().generation;
    writeFileSync(join(dir, 'p.yaml'), yaml('two'));
    assert.notEqual(source.reload().generation, first);
    const second = source.current().generation;
    writeFileSync(join(dir, 'p.yaml'), 'kind: [unclosed');
    assert.equal(source.reload().generation, second);
    assert.equal(errors.length, 1);
  });
});

describe('pull secrets', () => {
  test("the pod's and its service account's secrets, read once per TTL; unreadable ones skipped", async () => {
    const reads: string[] = [];
    const config = (user: string) =>
      Buffer.from(
        JSON.stringify({ auths: { 'registry.example': { username: user, password: 'pw' } } }),
      ).toString('base64');
    const core = {
      readServiceAccount: async ({ namespace, name }: { namespace: string; name: string }) => {
        reads.push(`sa ${namespace}/${name}`);
        return { imagePullSecrets: [{ name: 'from-sa' }] };
      },
      readSecret: async ({ namespace, name }: { namespace: string; name: string }) => {
        reads.push(`secret ${namespace}/${name}`);
        if (name === 'missing') throw new KubeApiError(404, 'NotFound', 'not found', 'fake');
        return { type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': config(name) } };
      },
    } as unknown as CoreApi;
    const unreadable: string[] = [];
    const secrets = new PullSecretKeychains(core, {
      events: { unreadable: (what, status) => unreadable.push(`${what} ${status}`) },
    });
    const workload = {
      namespace: 'apps',
      serviceAccountName: 'release',
      imagePullSecrets: ['from-pod', 'missing'],
    };
    const keychain = await secrets.keychainFor(workload);
    const users = keychain
      .credentialsFor('registry.example', 'apps/web')
      .map((c) => (c.kind === 'basic' ? c.username : c.kind));
    assert.deepEqual(users, ['from-pod', 'from-sa']);
    await secrets.keychainFor(workload);
    assert.deepEqual(reads, [
      'sa apps/release',
      'secret apps/from-pod',
      'secret apps/missing',
      'secret apps/from-sa',
    ]);
    assert.deepEqual(unreadable, ['secret apps/missing 404']);
  });
});

test("a policy file that does not parse is named with the parser's reason and place, never the line it quotes", () => {
  const dir = mkdtempSync(join(tmpdir(), 'sigward-policies-'));
  // A Secret in the same directory: the YAML parser's message quotes the offending line (the password),
  // and the webhook logs the error at error level.
  writeFileSync(join(dir, 'secret.yaml'), 'kind: Secret\nstringData:\n  token: s3cret-abc123: x\n');
  assert.throws(
    () => readPolicyDirectory(dir),
    (error: Error & { code?: string }) => {
      assert.equal(error.code, 'POLICY_FILE_INVALID');
      assert.match(error.message, /secret\.yaml: .* at line 3, column \d+$/);
      assert.ok(!error.message.includes('s3cret-abc123'), error.message);
      return true;
    },
  );
});
