// The chart and the webhook agree on client certificates and the health listener (rendered by Helm
// and checked against the apiserver in e2e/chart.e2e.ts; with a real apiserver presenting its
// certificate in e2e/webhook-client-auth.e2e.ts): the --client-ca path is where the bundle is mounted,
// the probes use the port --health-listen serves, clientAuth is off by default with no default name
// (one that did not match would refuse the apiserver, and so every Pod), and the schema knows every key.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { REPO_ROOT } from '../sigstore/ext.ts';

const chart = (path: string) => readFileSync(join(REPO_ROOT, 'charts/sigward', path), 'utf8');

test('--client-ca names the file the client-ca volume mounts; probes use the health port', () => {
  const deployment = chart('templates/deployment.yaml');
  const caArg = /- --client-ca=(\S+)\/ca\.crt$/m.exec(deployment);
  assert.ok(caArg, '--client-ca passed');
  assert.match(deployment, new RegExp(`- name: client-ca\\n\\s+mountPath: ${caArg[1]}\\n`));
  assert.match(chart('templates/_helpers.tpl'), /path: ca\.crt/);
  assert.match(deployment, /- --health-listen=0\.0\.0\.0:\{\{ \.Values\.healthPort \}\}/);
  assert.match(deployment, /- name: health\n\s+containerPort: \{\{ \.Values\.healthPort \}\}/);
  const probes = [...deployment.matchAll(/httpGet:\n\s+path: (\S+)\n\s+port: (\S+)\n\s+scheme: (\S+)/g)];
  assert.deepEqual(
    probes.map((p) => [p[1], p[2], p[3]]),
    [
      ['/livez', 'health', 'HTTPS'],
      ['/readyz', 'health', 'HTTPS'],
    ],
  );
  assert.match(chart('templates/servicemonitor.yaml'), /- port: health\n\s+path: \/metrics/);
});

test('clientAuth is off by default, names none, and the schema knows every key', () => {
  const values = parse(chart('values.yaml')) as {
    clientAuth: Record<string, unknown>;
    healthPort: number;
    containerPort: number;
  };
  assert.deepEqual(values.clientAuth, {
    enabled: false,
    caBundle: '',
    existingConfigMap: { name: '', key: 'ca.crt' },
    existingSecret: { name: '', key: 'ca.crt' },
    names: [],
  });
  assert.notEqual(values.healthPort, values.containerPort);
  const schema = JSON.parse(chart('values.schema.json')) as {
    properties: Record<string, { properties?: Record<string, unknown>; additionalProperties?: boolean }>;
  };
  assert.deepEqual(
    Object.keys(schema.properties['clientAuth']!.properties!).sort(),
    Object.keys(values.clientAuth).sort(),
  );
  assert.equal(schema.properties['clientAuth']!.additionalProperties, false);
  assert.ok(schema.properties['healthPort'], 'healthPort in the schema');
});
