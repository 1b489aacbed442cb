// What `sigward webhook` loads before its first review is its memory floor: heavy packages that only some
// installations need must load when first used. Recorded with a module resolve hook in a child process
// importing the webhook's command module; a package listed here loaded at start fails the test.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';

/**
 * Never at start: @kubernetes/client-node is not used at all (+80 MiB RSS); cloud SDKs load on first
 * use, and the CEL libraries when the first attestation condition compiles (~5 MiB RSS).
 */
const NOT_AT_START = [
  '@kubernetes/client-node',
  '@aws-sdk/client-ecr',
  '@aws-sdk/credential-providers',
  'google-auth-library',
  '@azure/identity',
  '@bufbuild/cel',
  '@marcbachmann/cel-js',
];

const hook = `
import { registerHooks } from 'node:module';
const seen = new Set();
registerHooks({
  resolve(specifier, context, next) {
    const resolved = next(specifier, context);
    const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(resolved.url);
    if (m) seen.add(m[1]);
    return resolved;
  },
});
process.on('exit', () => process.stdout.write(JSON.stringify([...seen])));
`;

test('the webhook command loads neither @kubernetes/client-node, a cloud SDK nor a CEL library at start', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [
    '--import',
    `data:text/javascript,${encodeURIComponent(hook)}`,
    '--input-type=module',
    '-e',
    "await import('./src/cli/webhook.ts');",
  ]);
  const loaded = JSON.parse(stdout) as string[];
  assert.ok(loaded.includes('fastify'), `the hook saw the packages: ${loaded.join(' ')}`);
  assert.deepEqual(
    NOT_AT_START.filter((p) => loaded.includes(p)),
    [],
  );
});
