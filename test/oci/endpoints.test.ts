// The test-only registry endpoint override can point a registry name only at this machine's loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SigwardError } from '../../src/errors.ts';
import { HttpTransport, parseRegistryEndpoints, registryEndpoints } from '../../src/oci/index.ts';

const ecr = '111122223333.dkr.ecr.eu-west-1.amazonaws.com';

test('a mapped name is served at its loopback endpoint over plain HTTP; others are untouched', async () => {
  const transport = new HttpTransport({ registryEndpoints: parseRegistryEndpoints(`${ecr}=127.0.0.1:5000`) });
  try {
    assert.equal(transport.registryUrl(ecr).href, 'http://127.0.0.1:5000/');
    assert.equal(transport.registryUrl(ecr.toUpperCase()).href, 'http://127.0.0.1:5000/');
    assert.equal(transport.registryUrl('ghcr.io').href, 'https://ghcr.io/');
  } finally {
    await transport.close();
  }
});

test('no target off loopback, no missing port, no malformed entry', () => {
  const invalid = (e: unknown) => e instanceof SigwardError && e.code === 'CONFIG_INVALID';
  for (const text of [
    `${ecr}=10.0.0.1:5000`,
    `${ecr}=evil.example.com:443`,
    `${ecr}=127.0.0.1`,
    `${ecr}=127.0.0.1:5000/path`,
    `${ecr}`,
    'bad name=127.0.0.1:5000',
  ]) {
    assert.throws(() => parseRegistryEndpoints(text), invalid, text);
  }
  // The transport checks again, whatever map a caller builds.
  assert.throws(() => new HttpTransport({ registryEndpoints: new Map([[ecr, '192.168.1.1:80']]) }), invalid);
  assert.equal(registryEndpoints({}).size, 0);
  assert.equal(parseRegistryEndpoints(undefined).size, 0);
});
