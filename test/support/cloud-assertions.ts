// What the credential tests (test/cloud, test/exec-credentials, e2e/credential-provider) assert again
// and again: a registry client reaching a double by its real name, a coded refusal, and no secret
// anywhere in an error chain.
import assert from 'node:assert/strict';
import { SigwardError } from '../../src/errors.ts';
import { RegistryClient, parseRegistryEndpoints, type Keychain } from '../../src/oci/index.ts';

/** Runs `use` with a client that reaches the registry names of `endpointsEnv` on loopback, then closes it. */
export async function withRegistryClient<T>(
  endpointsEnv: string,
  keychain: Keychain,
  use: (client: RegistryClient) => Promise<T>,
): Promise<T> {
  const client = new RegistryClient({ keychain, registryEndpoints: parseRegistryEndpoints(endpointsEnv) });
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

/** The promise rejects with a SigwardError of this code; returns it for further checks. */
export async function rejectsWithCode(
  promise: Promise<unknown>,
  code = 'REGISTRY_UNAUTHORIZED',
): Promise<SigwardError> {
  let caught: unknown;
  await assert.rejects(promise, (error) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof SigwardError, String(caught));
  assert.equal(caught.code, code, caught.message);
  return caught;
}

/** No message, detail or cause in the chain matches any of the secrets. */
export function assertNoSecret(error: unknown, secrets: readonly (string | RegExp)[]): void {
  let current: unknown = error;
  while (current instanceof Error) {
    const text = `${current.message} ${JSON.stringify((current as SigwardError).details ?? {})}`;
    for (const secret of secrets) {
      const leaked = typeof secret === 'string' ? text.includes(secret) : secret.test(text);
      assert.ok(!leaked, `error leaks a secret: ${text}`);
    }
    current = current.cause;
  }
}
