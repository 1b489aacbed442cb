// The chart and the code agree on the re-check: the one report the ClusterRole lets sigward get,
// update and delete is the one kube/policy-report.ts names; every re-check flag the Deployment passes
// is one `sigward webhook` knows; the CRD files the template reads exist and define what the writer
// writes (wgpolicyk8s.io/v1alpha2, served and stored). (Rendered by Helm and applied: e2e/policy-reports.e2e.ts.)
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { webhookUsage } from '../../src/cli/webhook.ts';
import { REPORT_API_VERSION, REPORT_NAME } from '../../src/kube/policy-report.ts';
import { REPO_ROOT } from '../sigstore/ext.ts';

const chart = (path: string) => readFileSync(join(REPO_ROOT, 'charts/sigward', path), 'utf8');

test('RBAC names the report sigward writes; the Deployment passes only flags the webhook has', () => {
  const rbac = chart('templates/rbac.yaml');
  assert.match(
    rbac,
    new RegExp(`resourceNames: \\["${REPORT_NAME}"\\]\\n\\s+verbs: \\["get", "update", "delete"\\]`),
  );
  const deployment = chart('templates/deployment.yaml');
  const flags = [...deployment.matchAll(/- (--[a-z-]+)/g)].map((m) => m[1]!);
  for (const flag of ['--recheck', '--recheck-interval-seconds', '--recheck-rate', '--exclude-namespace'])
    assert.ok(flags.includes(flag), `${flag} passed by the chart`);
  for (const flag of flags)
    assert.ok(
      webhookUsage.includes(`${flag} `) || webhookUsage.includes(`${flag}\n`),
      `${flag} in the usage`,
    );
});

test('the shipped CRDs define the PolicyReport sigward writes, one version, served and stored', () => {
  const [group, version] = REPORT_API_VERSION.split('/');
  for (const [file, kind, scope] of [
    ['wgpolicyk8s.io_policyreports.yaml', 'PolicyReport', 'Namespaced'],
    ['wgpolicyk8s.io_clusterpolicyreports.yaml', 'ClusterPolicyReport', 'Cluster'],
  ] as const) {
    const text = chart(`files/policyreport-crds/${file}`);
    assert.match(text, /^# Source: https:\/\/github\.com\/kubernetes-sigs\/wg-policy-prototypes/);
    const crd = parse(text) as {
      spec: {
        group: string;
        scope: string;
        names: { kind: string };
        versions: Array<{
          name: string;
          served: boolean;
          storage: boolean;
          schema: {
            openAPIV3Schema: {
              properties: Record<string, { items?: { properties: Record<string, unknown> } }>;
            };
          };
        }>;
      };
    };
    assert.equal(crd.spec.group, group);
    assert.equal(crd.spec.names.kind, kind);
    assert.equal(crd.spec.scope, scope);
    assert.deepEqual(
      crd.spec.versions.map((v) => [v.name, v.served, v.storage]),
      [[version, true, true]],
    );
    const result = crd.spec.versions[0]!.schema.openAPIV3Schema.properties['results']!.items!.properties;
    for (const field of [
      'source',
      'policy',
      'rule',
      'result',
      'severity',
      'category',
      'scored',
      'message',
      'timestamp',
      'resources',
      'properties',
    ])
      assert.ok(field in result, `${file}: results[].${field} (else the apiserver prunes it)`);
  }
  assert.match(chart('templates/policyreport-crds.yaml'), /if \.Values\.recheck\.installPolicyReportCRDs/);
});
