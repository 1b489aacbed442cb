// The kubelet's matchImages / auth-key matching (pkg/credentialprovider keyring.go URLsMatch), case by
// case, including the quirks sigward keeps on purpose to behave exactly as the kubelet does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { globMatches, urlsMatch } from '../../src/exec-credentials/index.ts';

const cases: readonly [pattern: string, image: string, matches: boolean][] = [
  // one glob per dot-separated label, never across a dot
  ['*.kubernetes.io', 'prefix.kubernetes.io', true],
  ['prefix.*.io', 'prefix.kubernetes.io', true],
  ['prefix.kubernetes.*', 'prefix.kubernetes.io', true],
  ['*-good.kubernetes.io', 'prefix-good.kubernetes.io', true],
  ['*.kubernetes.io', 'kubernetes.io', false],
  ['*.kubernetes.io', 'a.b.kubernetes.io', false],
  ['*.kubernetes.io', 'prefix.kubernetes.io.evil.com', false],
  ['*.dkr.ecr.*.amazonaws.com', '123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app', true],
  ['*.dkr.ecr.*.amazonaws.com', '123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.io/app', false],
  ['*.dkr.ecr.*.amazonaws.com', 'docker.io/library/nginx', false],
  // a port must be equal (no port is a port of its own)
  ['registry.io:5000', 'registry.io:5000/app', true],
  ['registry.io:5000', 'registry.io/app', false],
  ['registry.io', 'registry.io:5000/app', false],
  ['*.io:5000', 'registry.io:5000/app', true],
  // the pattern's path is a string prefix of the image's path
  ['registry.io/team', 'registry.io/team/app', true],
  ['registry.io/team', 'registry.io/other/app', false],
  ['registry.io/team', 'registry.io/teams/app', true],
  ['registry.io/team/app/deeper', 'registry.io/team/app', false],
  ['https://registry.io', 'registry.io/app', true],
  // Go's filepath.Match inside a label
  // `?` starts a URL query when the kubelet parses the pattern, so it never acts as a glob there
  ['reg?.io', 'reg1.io/app', false],
  ['reg-*.io', 'reg-eu.io/app', true],
  ['reg[0-9].io', 'reg7.io/app', true],
  ['reg[^0-9].io', 'reg7.io/app', false],
  ['reg[.io', 'reg[.io/app', false],
];

for (const [pattern, image, matches] of cases) {
  test(`${pattern} ${matches ? 'matches' : 'does not match'} ${image}`, () => {
    assert.equal(urlsMatch(pattern, image), matches);
  });
}

test('globs: Go filepath.Match syntax, malformed patterns match nothing', () => {
  assert.equal(globMatches('\\*', '*'), true);
  assert.equal(globMatches('\\*', 'a'), false);
  assert.equal(globMatches('[a-c]x', 'bx'), true);
  assert.equal(globMatches('[a-c]x', 'dx'), false);
  assert.equal(globMatches('[', 'a'), undefined);
  assert.equal(globMatches('[]', 'a'), undefined);
  assert.equal(globMatches('[z-a]', 'b'), undefined);
  assert.equal(globMatches('a\\', 'a'), undefined);
  assert.equal(globMatches('a.b', 'axb'), false, 'a dot in a pattern is a literal');
  assert.equal(globMatches('a?c', 'abc'), true);
  assert.equal(globMatches('[\\]]x', ']x'), true);
  assert.equal(globMatches('[-a]', 'a'), undefined, 'Go refuses a range without a start');
});
