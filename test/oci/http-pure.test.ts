// The pure parts of the transport: which hosts are loopback, Retry-After, scheme choice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpTransport, isLoopbackHostname, parseRetryAfter } from '../../src/oci/http.ts';

test('loopback hosts as URL spells them', () => {
  for (const host of [
    '127.0.0.1',
    '127.1',
    '127.255.0.9',
    'localhost',
    'LOCALHOST',
    '[::1]',
    '[0:0::1]',
    '0x7f.1',
  ]) {
    assert.ok(isLoopbackHostname(new URL(`http://${host}:5000/`).hostname), host);
  }
  for (const host of [
    '128.0.0.1',
    '10.0.0.1',
    'localhost.evil.io',
    '127.0.0.1.nip.io',
    '[::2]',
    'example.com',
  ]) {
    assert.ok(!isLoopbackHostname(new URL(`http://${host}/`).hostname), host);
  }
});

test('Retry-After: seconds or a date, else undefined', () => {
  assert.equal(parseRetryAfter('3'), 3000);
  assert.equal(parseRetryAfter(' 0 '), 0);
  assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4_000), 6_000);
  assert.equal(parseRetryAfter(new Date(1_000).toUTCString(), 4_000), 0);
  assert.equal(parseRetryAfter('soon'), undefined);
  assert.equal(parseRetryAfter('-1'), undefined);
  assert.equal(parseRetryAfter(undefined), undefined);
});

test('plain HTTP only for loopback and configured insecure registries', async () => {
  const transport = new HttpTransport({ insecureRegistries: ['insecure.example:5000', 'lab.internal'] });
  try {
    assert.equal(transport.registryUrl('127.0.0.1:5000').protocol, 'http:');
    assert.equal(transport.registryUrl('[::1]:5000').protocol, 'http:');
    assert.equal(transport.registryUrl('localhost:5000').protocol, 'http:');
    assert.equal(transport.registryUrl('insecure.example:5000').protocol, 'http:');
    assert.equal(transport.registryUrl('lab.internal:1234').protocol, 'http:');
    assert.equal(transport.registryUrl('insecure.example:5001').protocol, 'https:');
    assert.equal(transport.registryUrl('ghcr.io').protocol, 'https:');
    assert.equal(transport.registryUrl('localhost.evil.io').protocol, 'https:');
  } finally {
    await transport.close();
  }
  const strict = new HttpTransport({ plainHttpLoopback: false });
  try {
    assert.equal(strict.registryUrl('127.0.0.1:5000').protocol, 'https:');
  } finally {
    await strict.close();
  }
});
