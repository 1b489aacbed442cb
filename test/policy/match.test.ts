// Image globs and which policies apply: `*` within a segment, `**` across, Docker Hub normalisation of
// both sides, repositories only (no tags or digests), ImagePolicy confined to its namespace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compileGlob,
  GLOB_INVALID,
  MATCH_MEMORY_ENTRIES,
  matchingPolicies,
  policiesFor,
  repositoryOf,
} from '../../src/policy/match.ts';
import { parseReference } from '../../src/oci/reference.ts';
import type { MatchablePolicy } from '../../src/policy/match.ts';

const matches = (glob: string, image: string): boolean => compileGlob(glob).test(repositoryOf(image));

test('** spans path segments; a/** is everything below a, not a itself', () => {
  assert.ok(matches('registry.example.com/apps/**', 'registry.example.com/apps/api:1.0'));
  assert.ok(matches('registry.example.com/apps/**', 'registry.example.com/apps/team/deep/api'));
  assert.ok(!matches('registry.example.com/apps/**', 'registry.example.com/apps'));
  assert.ok(!matches('registry.example.com/apps/**', 'registry.example.com/appsx/api'));
  assert.ok(!matches('registry.example.com/apps/**', 'registry.example.com/other/api'));
  assert.ok(!matches('registry.example.com/apps/**', 'evil.example.com/registry.example.com/apps/api'));
});

test('* and ? stay within one segment', () => {
  assert.ok(matches('registry.example.com/apps/*', 'registry.example.com/apps/api'));
  assert.ok(!matches('registry.example.com/apps/*', 'registry.example.com/apps/team/api'));
  assert.ok(matches('registry.example.com/apps/api-?', 'registry.example.com/apps/api-1'));
  assert.ok(!matches('registry.example.com/apps/api-?', 'registry.example.com/apps/api-12'));
  assert.ok(matches('*.example.com/apps/*', 'registry.example.com/apps/api'));
  assert.ok(!matches('*.example.com/apps/*', 'example.com/apps/api'));
  assert.ok(!matches('*.example.com/apps/*', 'a/b.example.com/apps/api'), 'a host wildcard never crosses /');
});

test('**/ matches zero or more leading segments; ** alone is every image', () => {
  assert.ok(matches('**/nginx', 'nginx'));
  assert.ok(matches('**/nginx', 'ghcr.io/o/nginx'));
  assert.ok(!matches('**/nginx', 'ghcr.io/o/nginx-extra'));
  assert.ok(matches('registry.example.com/**/api', 'registry.example.com/api'));
  assert.ok(matches('registry.example.com/**/api', 'registry.example.com/a/b/api'));
  assert.ok(matches('**', 'nginx'));
  assert.ok(matches('**', '[::1]:5000/x/y:1'));
});

test('Docker Hub is normalised on both sides', () => {
  for (const image of [
    'nginx',
    'nginx:1.27',
    'docker.io/library/nginx',
    'index.docker.io/library/nginx@sha256:' + 'a'.repeat(64),
  ]) {
    for (const glob of [
      'nginx',
      'docker.io/nginx',
      'docker.io/library/nginx',
      'index.docker.io/library/nginx',
      'library/nginx',
      'ngin*',
    ]) {
      assert.ok(matches(glob, image), `${glob} ~ ${image}`);
    }
  }
  assert.ok(matches('bitnami/*', 'bitnami/redis'));
  assert.ok(matches('docker.io/bitnami/*', 'index.docker.io/bitnami/redis:7'));
  assert.ok(!matches('nginx', 'bitnami/nginx'));
  assert.ok(!matches('nginx', 'ghcr.io/library/nginx'));
  assert.ok(!matches('*', 'bitnami/redis'), '* is one segment: official images only');
  assert.equal(compileGlob('nginx').normalised, 'index.docker.io/library/nginx');
  assert.equal(compileGlob('Registry.Example.com/apps/**').normalised, 'registry.example.com/apps/**');
});

test('registries with ports, localhost and IPv6', () => {
  assert.ok(matches('localhost:5000/**', 'localhost:5000/team/app:1'));
  assert.ok(!matches('localhost:5000/**', 'localhost:5001/team/app:1'));
  assert.ok(matches('localhost/app', 'localhost/app'));
  assert.ok(matches('[::1]:5000/app', '[::1]:5000/app:1'));
  assert.ok(matches('127.0.0.1:*/app', '127.0.0.1:5000/app'));
});

test('another spelling of a registry is matched as that registry (an alias cannot dodge its policies)', () => {
  // The HTTPS default port: the same registry, so the same policies (not NO_POLICY).
  assert.ok(matches('ghcr.io/org/**', 'ghcr.io:443/org/app:1'));
  assert.ok(matches('ghcr.io:443/org/**', 'ghcr.io/org/app'));
  assert.ok(matches('ghcr.io/org/app', 'ghcr.io:443/org/app'));
  // Docker Hub's API host and docker.io with its port are Docker Hub.
  for (const image of [
    'registry-1.docker.io/library/nginx:1.27',
    'registry-1.docker.io/nginx',
    'docker.io:443/library/nginx',
    'index.docker.io:443/nginx',
  ])
    assert.ok(matches('nginx', image), image);
  assert.ok(matches('registry-1.docker.io/bitnami/*', 'bitnami/redis'));
  // Another port is another registry.
  assert.ok(!matches('ghcr.io/org/**', 'ghcr.io:5000/org/app'));
  assert.ok(!matches('nginx', 'registry-2.docker.io/library/nginx'));
  assert.equal(compileGlob('ghcr.io:443/org/**').normalised, 'ghcr.io/org/**');
});

test('regexp characters in a glob are literal', () => {
  assert.ok(!matches('registry.example.com/a.b', 'registry.example.com/axb'));
  assert.ok(matches('registry.example.com/a.b', 'registry.example.com/a.b'));
});

test('invalid globs are refused with the reason', () => {
  const refused: Array<[string, RegExp]> = [
    ['', /empty/],
    ['nginx:1.27', /not tags/],
    ['ghcr.io/o/app:v1', /not tags/],
    [`ghcr.io/o/app@sha256:${'a'.repeat(64)}`, /digests|letters/],
    ['ghcr.io/o/a**', /whole path segment/],
    ['ghcr.io/***', /\*\*\*/],
    ['ghcr.io//app', /empty path segment/],
    ['ghcr.io/app/', /empty path segment/],
    ['ghcr.io/o/app name', /only letters/],
    ['ghcr.io/o/(a|b)', /only letters/],
    ['ghcr.io/O/App', /lower-case/],
    ['ghcr.io/O/*', /lower-case/],
    ['x'.repeat(513), /longer than 512/],
    ['ghcr.io/[ab]', /IPv6/],
  ];
  for (const [glob, why] of refused) {
    assert.throws(
      () => compileGlob(glob),
      (e: { code?: string; message?: string }) => e.code === GLOB_INVALID && why.test(e.message ?? ''),
      glob,
    );
  }
});

// No stopwatch (a loaded machine made a 500 ms bound fail at 2 s). A backtracking engine tries every
// way of splitting the a's among the stars: V8's own RegExp takes ~5 s at 14 stars and never finishes
// at 100, so the test's timeout is the failure; RE2 answers in milliseconds.
test('a hostile glob and a long image stay linear (RE2)', { timeout: 120_000 }, () => {
  const glob = compileGlob(`${'*a'.repeat(100)}*c`);
  assert.equal(glob.test(`index.docker.io/library/${'a'.repeat(200)}`), false);
});

test('policiesFor: ClusterImagePolicies everywhere, ImagePolicies in their namespace only, order kept', () => {
  const p = (kind: MatchablePolicy['kind'], glob: string, namespace?: string) => ({
    kind,
    ...(namespace === undefined ? {} : { namespace }),
    images: [compileGlob(glob)],
    id: `${kind}:${namespace ?? ''}:${glob}`,
  });
  const policies = [
    p('ClusterImagePolicy', 'registry.example.com/**'),
    p('ImagePolicy', 'registry.example.com/apps/*', 'team-a'),
    p('ImagePolicy', 'registry.example.com/apps/*', 'team-b'),
    p('ClusterImagePolicy', 'nginx'),
  ];
  const ids = (image: string, ns: string | undefined) => policiesFor(policies, image, ns).map((x) => x.id);
  assert.deepEqual(ids('registry.example.com/apps/api:1', 'team-a'), [
    'ClusterImagePolicy::registry.example.com/**',
    'ImagePolicy:team-a:registry.example.com/apps/*',
  ]);
  assert.deepEqual(ids('registry.example.com/apps/api:1', 'team-c'), [
    'ClusterImagePolicy::registry.example.com/**',
  ]);
  assert.deepEqual(ids('registry.example.com/apps/api:1', undefined), [
    'ClusterImagePolicy::registry.example.com/**',
  ]);
  assert.deepEqual(ids('nginx:latest', 'team-a'), ['ClusterImagePolicy::nginx']);
  assert.deepEqual(ids('ghcr.io/o/x', 'team-a'), []);
  assert.throws(() => policiesFor(policies, 'Not A Reference', 'x'), { code: 'REFERENCE_INVALID' });
});

test('matchingPolicies: the answers of policiesFor, remembered per policy list; a new list is matched afresh', () => {
  const p = (kind: MatchablePolicy['kind'], glob: string, namespace?: string) => ({
    kind,
    ...(namespace === undefined ? {} : { namespace }),
    images: [compileGlob(glob)],
  });
  const before = [
    p('ClusterImagePolicy', 'registry.example.com/**'),
    p('ImagePolicy', 'registry.example.com/*', 'a'),
  ];
  const api = parseReference('registry.example.com/api:1');
  const other = parseReference('registry.example.com/other@sha256:' + 'a'.repeat(64));
  for (const [ref, ns] of [
    [api, 'a'],
    [api, 'b'],
    [api, undefined],
    [api, ''],
    [other, 'a'],
  ] as const) {
    assert.deepEqual(matchingPolicies(before, ref, ns), policiesFor(before, ref, ns));
    assert.deepEqual(matchingPolicies(before, ref, ns), policiesFor(before, ref, ns), 'remembered: the same');
  }
  // A policy change is a new snapshot, so a new list: never the old list's answer.
  const after = [p('ClusterImagePolicy', 'ghcr.io/**')];
  assert.deepEqual(matchingPolicies(after, api, 'a'), []);
  assert.equal(matchingPolicies(before, api, 'a').length, 2);
  // Past the memory's size it starts over and still answers right.
  for (let i = 0; i <= MATCH_MEMORY_ENTRIES; i++)
    matchingPolicies(before, parseReference(`registry.example.com/r${i}`), 'a');
  assert.equal(matchingPolicies(before, api, 'a').length, 2);
  assert.throws(
    () => (matchingPolicies(before, api, 'a') as unknown[]).push(1),
    TypeError,
    'shared answers are frozen',
  );
});
