// The chart's `cloud` values agree with the CLI they feed: the default is the CLI's default, and the
// schema's pattern for cloud.credentials accepts exactly the `--cloud-credentials` values the CLI
// accepts. (Rendering with the real helm — annotations, the AKS label, the flag — is in
// e2e/chart-cloud.e2e.ts: helm is a Go tool, outside npm test.)
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { cloudProviders } from '../../src/cli/cloud-credentials.ts';
import { REPO_ROOT } from '../sigstore/ext.ts';

const values = parse(readFileSync(join(REPO_ROOT, 'charts/sigward/values.yaml'), 'utf8')) as {
  cloud: {
    credentials: string;
    aws: { roleArn: string };
    gcp: { serviceAccount: string };
    azure: { clientId: string };
  };
};
const schema = JSON.parse(readFileSync(join(REPO_ROOT, 'charts/sigward/values.schema.json'), 'utf8')) as {
  properties: { cloud: { properties: { credentials: { pattern: string } } } };
};

test('the chart defaults to the CLI default (auto) and sets no cloud identity', () => {
  assert.equal(values.cloud.credentials, 'auto');
  assert.deepEqual(cloudProviders(values.cloud.credentials), cloudProviders(undefined));
  assert.equal(values.cloud.aws.roleArn, '');
  assert.equal(values.cloud.gcp.serviceAccount, '');
  assert.equal(values.cloud.azure.clientId, '');
});

test('values.schema.json accepts exactly the --cloud-credentials values the CLI accepts', () => {
  const pattern = new RegExp(schema.properties.cloud.properties.credentials.pattern);
  const accepts = (value: string): boolean => {
    try {
      cloudProviders(value);
      return true;
    } catch {
      return false;
    }
  };
  for (const value of ['auto', 'none', 'ecr', 'gcp', 'acr', 'ecr,gcp', 'acr,ecr,gcp', 'ecr,ecr']) {
    assert.equal(pattern.test(value), true, value);
    assert.equal(accepts(value), true, value);
  }
  for (const value of ['', 'aws', 'ecr,', 'auto,ecr', 'none,gcp', 'ECR', 'ecr ,gcp']) {
    assert.equal(pattern.test(value), false, value);
  }
});
