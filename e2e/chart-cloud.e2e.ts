// The chart's cloud workload identity values rendered by the real helm (`helm template`, no cluster):
// IRSA's, GKE's and AKS Workload Identity's service-account annotations, AKS's Pod label, the
// `--cloud-credentials` flag, extra env/volumes, and values.schema.json refusing malformed ones.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parseAllDocuments, stringify } from 'yaml';
import { chartDir, helmOffline, oneManifest, type Manifest } from './world/chart.ts';

const valuesDir = mkdtempSync(path.join(tmpdir(), 'sigward-chart-values-'));

/** `helm template` with these values: the manifests, or helm's error output. */
function render(values: Record<string, unknown>): {
  manifests: Manifest[];
  error: string;
  status: number | null;
} {
  const file = path.join(valuesDir, `values-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, stringify(values));
  const r = helmOffline(['template', 'sigward', chartDir, '--namespace=sigward-system', `--values=${file}`]);
  const manifests =
    r.status === 0
      ? parseAllDocuments(r.stdout)
          .map((d) => d.toJS() as Manifest | null)
          .filter((m): m is Manifest => m !== null)
      : [];
  return { manifests, error: r.stderr, status: r.status };
}

interface PodSpec {
  containers: { args: string[]; env: { name: string; value?: string }[]; volumeMounts: { name: string }[] }[];
  volumes: { name: string }[];
}
function podOf(manifests: Manifest[]): { labels: Record<string, string>; spec: PodSpec } {
  const deployment = oneManifest(manifests, 'Deployment') as unknown as {
    spec: { template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
  };
  return { labels: deployment.spec.template.metadata.labels, spec: deployment.spec.template.spec };
}

describe('chart: cloud workload identity values', () => {
  test('defaults: --cloud-credentials=auto, no cloud annotation, no AKS label', () => {
    const { manifests, error, status } = render({});
    assert.equal(status, 0, error);
    const account = oneManifest(manifests, 'ServiceAccount');
    assert.equal(account.metadata.annotations, undefined);
    const pod = podOf(manifests);
    assert.ok(pod.spec.containers[0]!.args.includes('--cloud-credentials=auto'));
    assert.equal(pod.labels['azure.workload.identity/use'], undefined);
  });

  test('IRSA, GKE and AKS identities annotate the service account; AKS labels the Pod; own annotations win', () => {
    const { manifests, error, status } = render({
      cloud: {
        credentials: 'ecr,acr',
        aws: { roleArn: 'arn:aws:iam::111122223333:role/sigward-webhook' },
        gcp: { serviceAccount: 'sigward@project-1.iam.gserviceaccount.com' },
        azure: {
          clientId: '5b2c1f6e-0d7a-4c55-9a51-3f1b7f0c2e11',
          tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
        },
      },
      serviceAccount: {
        annotations: {
          'eks.amazonaws.com/sts-regional-endpoints': 'true',
          'iam.gke.io/gcp-service-account': 'own@p.iam.gserviceaccount.com',
        },
      },
      extraEnv: [{ name: 'AWS_REGION', value: 'eu-west-1' }],
      extraVolumes: [{ name: 'wif', configMap: { name: 'sigward-wif' } }],
      extraVolumeMounts: [{ name: 'wif', mountPath: '/etc/wif', readOnly: true }],
    });
    assert.equal(status, 0, error);
    assert.deepEqual(oneManifest(manifests, 'ServiceAccount').metadata.annotations, {
      'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/sigward-webhook',
      'eks.amazonaws.com/sts-regional-endpoints': 'true',
      'iam.gke.io/gcp-service-account': 'own@p.iam.gserviceaccount.com',
      'azure.workload.identity/client-id': '5b2c1f6e-0d7a-4c55-9a51-3f1b7f0c2e11',
      'azure.workload.identity/tenant-id': '72f988bf-86f1-41af-91ab-2d7cd011db47',
    });
    const pod = podOf(manifests);
    assert.equal(pod.labels['azure.workload.identity/use'], 'true');
    const container = pod.spec.containers[0]!;
    assert.ok(container.args.includes('--cloud-credentials=ecr,acr'));
    assert.deepEqual(container.env.at(-1), { name: 'AWS_REGION', value: 'eu-west-1' });
    assert.ok(pod.spec.volumes.some((v) => v.name === 'wif'));
    assert.ok(container.volumeMounts.some((m) => m.name === 'wif'));
  });

  test('values.schema.json refuses a malformed flag value, role ARN, Google account or client id', () => {
    for (const [cloud, field] of [
      [{ credentials: 'aws' }, 'credentials'],
      [{ aws: { roleArn: 'sigward-webhook' } }, 'roleArn'],
      [{ gcp: { serviceAccount: 'sigward@gmail.com' } }, 'serviceAccount'],
      [{ azure: { clientId: 'not-a-guid' } }, 'clientId'],
    ] as const) {
      const { status, error } = render({ cloud });
      assert.notEqual(status, 0, field);
      assert.match(error, new RegExp(`cloud.*${field}|${field}.*cloud`, 's'), error);
    }
  });
});
