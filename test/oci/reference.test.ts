import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SigwardError } from '../../src/errors.ts';
import {
  formatReference,
  parseReference,
  parseRepository,
  referenceIn,
  splitRegistry,
  withDigest,
  manifestIdentifier,
} from '../../src/oci/reference.ts';

const d256 = `sha256:${'a'.repeat(64)}`;
const d512 = `sha512:${'b'.repeat(128)}`;

const valid: [string, string][] = [
  ['nginx', 'index.docker.io/library/nginx:latest'],
  ['nginx:1.27', 'index.docker.io/library/nginx:1.27'],
  [`nginx@${d256}`, `index.docker.io/library/nginx@${d256}`],
  [`nginx:1.27@${d256}`, `index.docker.io/library/nginx:1.27@${d256}`],
  ['docker.io/nginx', 'index.docker.io/library/nginx:latest'],
  ['docker.io/library/nginx', 'index.docker.io/library/nginx:latest'],
  ['index.docker.io/nginx', 'index.docker.io/library/nginx:latest'],
  ['DOCKER.IO/nginx', 'index.docker.io/library/nginx:latest'],
  ['bitnami/redis', 'index.docker.io/bitnami/redis:latest'],
  ['docker.io/bitnami/redis:7', 'index.docker.io/bitnami/redis:7'],
  ['ghcr.io/org/app:v1', 'ghcr.io/org/app:v1'],
  ['GHCR.io/org/app', 'ghcr.io/org/app:latest'],
  ['ghcr.io/org/team/sub/app', 'ghcr.io/org/team/sub/app:latest'],
  ['localhost/app', 'localhost/app:latest'],
  ['localhost:5000/app:dev', 'localhost:5000/app:dev'],
  ['127.0.0.1:5000/a/b@' + d256, `127.0.0.1:5000/a/b@${d256}`],
  ['[::1]:5000/app', '[::1]:5000/app:latest'],
  ['[::1]/app:tag', '[::1]/app:tag'],
  ['[2001:db8::1]:443/x/y:1.0', '[2001:db8::1]:443/x/y:1.0'],
  ['Registry/app', 'registry/app:latest'], // an upper-case first component is a host
  ['reg.example.com/a.b/c_d/e__f/g-h/i--j:T_a.g-1', 'reg.example.com/a.b/c_d/e__f/g-h/i--j:T_a.g-1'],
  ['localhost:5000', 'index.docker.io/library/localhost:5000'], // as Docker reads it: a tag
  [`app@${d512}`, `index.docker.io/library/app@${d512}`],
  ['a:' + 'x'.repeat(128), 'index.docker.io/library/a:' + 'x'.repeat(128)],
];

for (const [input, expected] of valid) {
  test(`parses ${input.slice(0, 60)}`, () => {
    assert.equal(formatReference(parseReference(input)), expected);
  });
}

test('keeps tag and digest apart, digest first for fetching', () => {
  const ref = parseReference(`ghcr.io/o/app:1@${d256}`);
  assert.deepEqual(ref, { registry: 'ghcr.io', repository: 'o/app', tag: '1', digest: d256 });
  assert.equal(manifestIdentifier(ref), d256);
  assert.equal(manifestIdentifier(parseReference('ghcr.io/o/app:1')), '1');
});

test('no default tag when asked', () => {
  assert.deepEqual(parseReference('nginx', { defaultTag: false }), {
    registry: 'index.docker.io',
    repository: 'library/nginx',
  });
  assert.throws(
    () => manifestIdentifier(parseReference('nginx', { defaultTag: false })),
    (e: unknown) => e instanceof SigwardError && e.code === 'REFERENCE_INVALID',
  );
});

const invalid: [string, RegExp][] = [
  ['', /empty/],
  [' nginx', /white space/],
  ['nginx :1', /white space/],
  ['Nginx', /lower-case/],
  ['ghcr.io/Org/app', /lower-case/],
  ['ghcr.io//app', /empty component/],
  ['ghcr.io/app/', /empty component/],
  ['/app', /empty component/],
  ['ghcr.io/app:', /not a valid tag/],
  ['app:-x', /not a valid tag/],
  ['app:' + 'x'.repeat(129), /not a valid tag/],
  ['app@sha256:abc', /lower-case hex of the right length/],
  [`app@sha256:${'A'.repeat(64)}`, /lower-case hex/],
  [`app@md5:${'a'.repeat(32)}`, /unsupported digest algorithm/],
  ['app@', /digest must look like/],
  ['app@@' + d256, /digest/],
  ['reg.io:99999/app', /invalid port/],
  ['reg.io:0/app', /invalid port/],
  ['reg.io:/app', /invalid port/],
  ['-reg.io/app', /invalid registry host/],
  ['reg..io/app', /invalid registry host/],
  ['[::1/app', /invalid/],
  ['[zz::1]:5000/app', /invalid IPv6 host/],
  ['ghcr.io/a!b', /not a valid repository path component/],
  ['ghcr.io/a_-b', /not a valid repository path component/],
  ['ghcr.io/a___b', /not a valid repository path component/],
  ['ghcr.io/' + 'a'.repeat(250), /longer than 255/],
  ['user:pass@reg.io/app', /digest|invalid/],
];

for (const [input, why] of invalid) {
  test(`refuses ${JSON.stringify(input.slice(0, 50))}`, () => {
    assert.throws(
      () => parseReference(input),
      (e: unknown) => e instanceof SigwardError && e.code === 'REFERENCE_INVALID' && why.test(e.message),
    );
  });
}

test('repositories have neither tag nor digest', () => {
  assert.deepEqual(parseRepository('ghcr.io/o/sigs'), { registry: 'ghcr.io', repository: 'o/sigs' });
  assert.deepEqual(parseRepository('[::1]:5000/sigs'), { registry: '[::1]:5000', repository: 'sigs' });
  assert.deepEqual(parseRepository('nginx'), { registry: 'index.docker.io', repository: 'library/nginx' });
  assert.throws(() => parseRepository('ghcr.io/o/sigs:1'), /no tag/);
  assert.throws(() => parseRepository(`ghcr.io/o/sigs@${d256}`), /no digest/);
});

test('referenceIn and withDigest', () => {
  const repo = parseRepository('reg.io/app');
  assert.equal(formatReference(referenceIn(repo, 'sha256-abc.sig')), 'reg.io/app:sha256-abc.sig');
  assert.equal(formatReference(referenceIn(repo, d256)), `reg.io/app@${d256}`);
  assert.throws(() => referenceIn(repo, 'sha256:zz'), /REFERENCE|invalid/);
  assert.throws(() => referenceIn(repo, '.bad'), /not a valid tag/);
  const pinned = withDigest(parseReference('reg.io/app:1'), d256);
  assert.equal(formatReference(pinned), `reg.io/app:1@${d256}`);
  assert.throws(() => withDigest(pinned, 'sha256:1'), /invalid/);
});

test('splitRegistry', () => {
  assert.deepEqual(splitRegistry('[::1]:5000'), { hostname: '::1', port: 5000 });
  assert.deepEqual(splitRegistry('[::1]'), { hostname: '::1', port: undefined });
  assert.deepEqual(splitRegistry('reg.io:443'), { hostname: 'reg.io', port: 443 });
  assert.deepEqual(splitRegistry('reg.io'), { hostname: 'reg.io', port: undefined });
});

test('the error names the reference and is a SigwardError', () => {
  try {
    parseReference('ghcr.io/UPPER');
    assert.fail('should throw');
  } catch (error) {
    assert.ok(error instanceof SigwardError);
    assert.equal(error.code, 'REFERENCE_INVALID');
    assert.equal(error.details['reference'], 'ghcr.io/UPPER');
  }
});

test('more host and port edge cases', () => {
  assert.throws(() => parseReference('reg.io:abc/app'), /invalid port "abc"/);
  assert.throws(() => parseReference('reg.io:123456/app'), /invalid port/);
  assert.throws(() => parseReference('[::1]:x/app'), /invalid port/);
  assert.throws(() => parseReference('[::1]junk/app'), /invalid IPv6 host/);
  assert.equal(formatReference(parseReference('[::1]:65535/app')), '[::1]:65535/app:latest');
  assert.equal(formatReference(parseReference('a-b.c:1/app')), 'a-b.c:1/app:latest');
});
