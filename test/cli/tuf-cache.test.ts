// Where the one-shot commands keep TUF metadata: a private temporary directory removed when the command
// is done (each `sigward verify` used to leave a `sigward-tuf-*` directory behind, and `sigward sign`
// shared one fixed `/tmp/sigward-tuf` between every user of the machine), or the directory
// SIGWARD_TUF_CACHE names, kept. Driven by the real commands against a real signed TUF repository.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestEngine } from '../../src/cli/policy-test-engine.ts';
import { runSign } from '../../src/cli/sign.ts';
import { tufCacheDirectory } from '../../src/cli/tuf-cache.ts';
import { anonymousKeychain } from '../../src/oci/index.ts';
import { PROD_ROOT_PATH, REPO_ROOT } from '../sigstore/ext.ts';
import { TestTufRepo } from '../sigstore/tuf-repo.ts';
import { verifyCaptured } from '../support/verify-cli.ts';

let repo: TestTufRepo;
let dir: string;
let rootPath: string;
const outerTmp = process.env['TMPDIR'];
const unreachableImage = `127.0.0.1:1/app@sha256:${'a'.repeat(64)}`;

before(async () => {
  repo = new TestTufRepo();
  repo.publish({ 'trusted_root.json': Buffer.from('{}') });
  await repo.serve();
  dir = mkdtempSync(join(tmpdir(), 'sigward-tuf-cache-test-'));
  rootPath = join(dir, 'root.json');
  writeFileSync(rootPath, repo.initialRoot);
});
after(async () => {
  await repo.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `work` with TMPDIR pointing at a fresh directory; returns what is left in it afterwards. */
async function leftInTmp(work: () => Promise<unknown>): Promise<string[]> {
  const fresh = mkdtempSync(join(dir, 'tmp-'));
  process.env['TMPDIR'] = fresh;
  try {
    await work();
  } finally {
    if (outerTmp === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = outerTmp;
  }
  return readdirSync(fresh);
}

test('sigward verify reading a TUF mirror leaves no cache directory behind', async () => {
  const asked = repo.requests.length;
  const left = await leftInTmp(async () => {
    const run = await verifyCaptured(
      [
        `--tuf-mirror=${repo.url}`,
        `--tuf-root=${rootPath}`,
        '--certificate-identity=someone@example.com',
        '--certificate-oidc-issuer=https://issuer.example.com',
        unreachableImage,
      ],
      {},
    );
    assert.equal(run.code, 1);
  });
  // The mirror was read (into a temporary cache), and the cache is gone.
  assert.ok(repo.requests.slice(asked).includes('timestamp.json'), repo.requests.join(' '));
  assert.deepEqual(left, []);
});

test('sigward sign reading a TUF mirror neither leaves nor shares a cache directory', async () => {
  const asked = repo.requests.length;
  let err = '';
  const left = await leftInTmp(async () => {
    const code = await runSign(
      'sign',
      [`--tuf-mirror=${repo.url}`, `--tuf-root=${rootPath}`, unreachableImage],
      { out: () => undefined, err: (t) => (err += t) },
    );
    // The mirror has no signing_config.json: a private mirror that fails is an error.
    assert.equal(code, 1, err);
  });
  assert.ok(repo.requests.slice(asked).includes('timestamp.json'), repo.requests.join(' '));
  assert.deepEqual(left, []);
});

test('sigward policy test removes its TUF cache directory when it closes', async () => {
  const left = await leftInTmp(async () => {
    const engine = await startTestEngine({
      policies: [join(REPO_ROOT, 'examples/policies/kubewarden-releases.yaml')],
      trustedRootFile: PROD_ROOT_PATH,
      keychain: anonymousKeychain,
      unmatched: 'deny',
      failureOutcome: 'deny',
      deadlineMs: 1000,
      env: {},
      warn: () => undefined,
    });
    await engine.close();
  });
  assert.deepEqual(left, []);
});

test('a cache directory named by SIGWARD_TUF_CACHE is used and kept', () => {
  const named = mkdtempSync(join(dir, 'named-'));
  writeFileSync(join(named, 'root.json'), repo.initialRoot);
  const cache = tufCacheDirectory({ SIGWARD_TUF_CACHE: named });
  assert.equal(cache.path, named);
  cache.release();
  assert.ok(existsSync(join(named, 'root.json')));
  const temporary = tufCacheDirectory({});
  assert.ok(existsSync(temporary.path));
  temporary.release();
  assert.equal(existsSync(temporary.path), false);
});
