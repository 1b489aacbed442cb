// `--cloud-credentials`: the accepted forms, and that the keychain it builds offers each provider for
// its own hosts only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cloudKeychain, cloudProviders } from '../../src/cli/cloud-credentials.ts';
import { UsageError } from '../../src/cli/usage-error.ts';

test('auto (the default) enables all three; none none; a list only those; anything else is refused', () => {
  assert.deepEqual(cloudProviders(undefined), ['ecr', 'gcp', 'acr']);
  assert.deepEqual(cloudProviders('auto'), ['ecr', 'gcp', 'acr']);
  assert.deepEqual(cloudProviders('none'), []);
  assert.deepEqual(cloudProviders('ecr'), ['ecr']);
  assert.deepEqual(cloudProviders('acr, gcp,acr'), ['acr', 'gcp']);
  for (const bad of ['', 'aws', 'ecr,', 'auto,ecr', 'none,gcp', 'ECR']) {
    assert.throws(
      () => cloudProviders(bad),
      /--cloud-credentials is auto, none, or a comma list of ecr, gcp, acr/,
      bad,
    );
    // A usage error (the command prints its usage), not a verification failure labelled VERIFY_FAILED.
    assert.throws(() => cloudProviders(bad), UsageError, bad);
  }
});

test('each provider answers only for its own registry hosts', () => {
  const ids = (value: string, host: string): string[] =>
    cloudKeychain(value)
      .credentialsFor(host, 'repo')
      .map((c) => (c.kind === 'exchange' ? c.id : c.kind));
  const ecrHost = '111122223333.dkr.ecr.eu-west-1.amazonaws.com';
  assert.deepEqual(ids('auto', ecrHost), [`ecr:${ecrHost}`]);
  assert.deepEqual(ids('auto', 'europe-docker.pkg.dev'), ['gcp:workload-identity']);
  assert.deepEqual(ids('auto', 'team.azurecr.io'), ['acr:team.azurecr.io']);
  assert.deepEqual(ids('auto', 'ghcr.io'), []);
  assert.deepEqual(ids('ecr', 'team.azurecr.io'), []);
  assert.deepEqual(ids('gcp,acr', ecrHost), []);
  assert.deepEqual(ids('none', 'gcr.io'), []);
});
