// The chart's webhook.credentialProviders values rendered by the real helm v4 (`helm template`): the
// CredentialProviderConfig lands in a ConfigMap, both volumes are mounted read-only, the flags are
// passed, a changed config changes the Pods' checksum, and missing or unknown values are refused.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { goTool, repoRoot } from './world/tools.ts';

const chart = join(repoRoot, 'charts/sigward');
const dir = mkdtempSync(join(tmpdir(), 'sigward-chart-providers-'));
const providerConfig = {
  apiVersion: 'kubelet.config.k8s.io/v1',
  kind: 'CredentialProviderConfig',
  providers: [
    {
      name: 'ecr-credential-provider',
      matchImages: ['*.dkr.ecr.*.amazonaws.com'],
      defaultCacheDuration: '12h',
      apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
    },
  ],
};
const binVolume = { image: { reference: 'registry.example.com/credential-providers:v1.37.1' } };

interface Manifest {
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
  data?: Record<string, string>;
  spec?: {
    template: {
      metadata: { annotations?: Record<string, string> };
      spec: {
        containers: {
          args: string[];
          volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
        }[];
        volumes: ({ name: string } & Record<string, unknown>)[];
      };
    };
  };
}

function helmTemplate(values: object): Promise<{ code: number; manifests: Manifest[]; stderr: string }> {
  const file = join(dir, `values-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, JSON.stringify(values));
  return new Promise((resolve) =>
    execFile(
      goTool('helm'),
      ['template', 'sw', chart, '--namespace=sigward', '-f', file],
      (error, stdout, stderr) =>
        resolve({
          code: error === null ? 0 : Number(error.code ?? 1),
          manifests:
            error === null
              ? parseAllDocuments(stdout)
                  .map((d) => d.toJS() as Manifest)
                  .filter((m) => m !== null)
              : [],
          stderr,
        }),
    ),
  );
}

const deploymentOf = (manifests: Manifest[]) => {
  const deployment = manifests.find((m) => m.kind === 'Deployment');
  assert.ok(deployment?.spec !== undefined);
  return deployment.spec.template;
};

describe('chart: webhook.credentialProviders', () => {
  test('off by default: no ConfigMap, no flags, no volumes', async () => {
    const r = await helmTemplate({});
    assert.equal(r.code, 0, r.stderr);
    assert.ok(
      !r.manifests.some((m) => m.kind === 'ConfigMap' && m.metadata.name.endsWith('-credential-providers')),
    );
    const pod = deploymentOf(r.manifests);
    assert.ok(!pod.spec.containers[0]?.args.some((a) => a.startsWith('--credential-provider')));
    assert.ok(!pod.spec.volumes.some((v) => v.name.startsWith('credential-provider')));
  });

  test('set: the config in a ConfigMap, both volumes read-only, the flags, a checksum that follows the config', async () => {
    const r = await helmTemplate({ webhook: { credentialProviders: { config: providerConfig, binVolume } } });
    assert.equal(r.code, 0, r.stderr);
    const configMap = r.manifests.find(
      (m) => m.kind === 'ConfigMap' && m.metadata.name === 'sw-sigward-credential-providers',
    );
    assert.deepEqual(parse(configMap?.data?.['config.yaml'] ?? ''), providerConfig);
    const pod = deploymentOf(r.manifests);
    const container = pod.spec.containers[0];
    assert.ok(
      container?.args.includes('--credential-provider-config=/etc/sigward/credential-providers/config.yaml'),
    );
    assert.ok(
      container?.args.includes('--credential-provider-bin-dir=/usr/local/lib/sigward/credential-providers'),
    );
    assert.deepEqual(
      container?.volumeMounts.filter((v) => v.name.startsWith('credential-provider')),
      [
        {
          name: 'credential-provider-config',
          mountPath: '/etc/sigward/credential-providers',
          readOnly: true,
        },
        {
          name: 'credential-provider-bin',
          mountPath: '/usr/local/lib/sigward/credential-providers',
          readOnly: true,
        },
      ],
    );
    assert.deepEqual(
      pod.spec.volumes.find((v) => v.name === 'credential-provider-bin'),
      { name: 'credential-provider-bin', ...binVolume },
    );
    assert.deepEqual(
      pod.spec.volumes.find((v) => v.name === 'credential-provider-config'),
      {
        name: 'credential-provider-config',
        configMap: { name: 'sw-sigward-credential-providers' },
      },
    );
    const checksum = pod.metadata.annotations?.['checksum/credential-providers'];
    assert.match(checksum ?? '', /^[0-9a-f]{64}$/);
    const changed = await helmTemplate({
      webhook: {
        credentialProviders: {
          config: {
            ...providerConfig,
            providers: [{ ...providerConfig.providers[0], defaultCacheDuration: '1h' }],
          },
          binVolume,
        },
      },
    });
    assert.notEqual(
      deploymentOf(changed.manifests).metadata.annotations?.['checksum/credential-providers'],
      checksum,
    );
  });

  test('refused: a config without binVolume, and an unknown key', async () => {
    const noBin = await helmTemplate({ webhook: { credentialProviders: { config: providerConfig } } });
    assert.notEqual(noBin.code, 0);
    assert.match(
      noBin.stderr,
      /webhook\.credentialProviders\.binVolume is required with webhook\.credentialProviders\.config/,
    );
    const unknown = await helmTemplate({ webhook: { credentialProviders: { configFile: '/etc/x' } } });
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /configFile/);
  });
});
