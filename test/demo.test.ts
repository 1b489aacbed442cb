// `npm run demo` (scripts/demo.ts) is what the README shows: run it as a person would and hold it to
// its output, so the claim cannot rot. It needs Debian's docker-registry (`npm test` installs it).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from './sigstore/ext.ts';

const run = promisify(execFile);

test('npm run demo: the real public-good signature is admitted and pinned, the unsigned image denied', async () => {
  const { stdout } = await run(process.execPath, [path.join(REPO_ROOT, 'scripts/demo.ts')], {
    cwd: REPO_ROOT,
    timeout: 90_000,
  });
  const host = /docker-registry at http:\/\/(127\.0\.0\.1:\d+)/.exec(stdout)?.[1];
  assert.ok(host !== undefined, stdout);
  const signedDigest = 'sha256:0489474da8ea22426ece86ace6c1c0026ab2fd3cdfbbd62b7e94650266c37d9a';
  const unsignedDigest = /unsigned {3}\S+ = (sha256:[0-9a-f]{64})/.exec(stdout)?.[1];
  assert.ok(unsignedDigest !== undefined, stdout);

  assert.match(stdout, /certificate: mitr@redhat\.com via https:\/\/github\.com\/login\/oauth/);
  assert.match(stdout, /trusted root: public-good, embedded in @sigstore\/tuf/);
  assert.ok(stdout.includes('  /validate: ADMITTED (allowed: true)'), stdout);
  assert.ok(
    stdout.includes(
      `{"op":"replace","path":"/spec/containers/0/image","value":"${host}/demo/signed:v1@${signedDigest}"}`,
    ),
    stdout,
  );
  assert.ok(stdout.includes('  /validate: DENIED (allowed: false, code 403)'), stdout);
  assert.ok(
    stdout.includes(
      `    image ${host}/demo/unsigned:v1 (digest ${unsignedDigest}) in spec.containers[0].image: ` +
        `policy demo-signed-by-mitr, authority mitr-github: no signatures found (looked in the referrers ` +
        `fallback tag (the registry has no referrers API) and the legacy .sig tag, in ${host}/demo/unsigned); ` +
        `expected a signature by subject "mitr@redhat.com" from issuer "https://github.com/login/oauth" ` +
        `[SIGNATURE_MISSING]\n`,
    ),
    stdout,
  );
  assert.match(stdout, /demo OK: the signed image is admitted and pinned, the unsigned one denied\n$/);
});
