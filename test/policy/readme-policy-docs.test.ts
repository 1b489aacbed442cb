// The README is where a developer whose Pod was refused looks up the code at the end of kubectl's
// line, and where a security team copies its first attestation policy from. "Reading a denial" must
// explain every reason code a denial can carry, and the attestation example must be the policy that
// examples/policies/ ships (the one the tests compile and `npm start` serves), not an older copy.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { ReasonCode } from '../../src/policy/decision.ts';
import { REPO_ROOT } from '../sigstore/ext.ts';

const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

/** The text of the README section under `### title`, up to the next heading of any level. */
function section(title: string): string {
  const start = readme.indexOf(`\n### ${title}\n`);
  assert.notEqual(start, -1, `README has a "${title}" section`);
  const rest = readme.slice(start + title.length + 6);
  const end = rest.search(/\n#{1,3} /);
  return end === -1 ? rest : rest.slice(0, end);
}

test('"Reading a denial" explains every reason code a denial can carry', () => {
  const text = section('Reading a denial');
  const missing = Object.values(ReasonCode).filter(
    (code) => code !== ReasonCode.verified && !text.includes(`\`${code}\``),
  );
  assert.deepEqual(missing, [], 'reason codes a kubectl user can see but the README does not explain');
});

test('the README attestation policy is examples/policies/provenance-from-main.yaml', () => {
  const text = section('Attestation policies');
  const block = /```yaml\n([\s\S]*?)```/.exec(text);
  assert.ok(block !== null, 'the section shows a policy');
  type Policy = { metadata: { name: string }; spec: { mode?: string } & Record<string, unknown> };
  const shown = parse(block[1]!) as Policy;
  const shipped = parse(
    readFileSync(join(REPO_ROOT, 'examples/policies/provenance-from-main.yaml'), 'utf8'),
  ) as Policy;
  assert.equal(shown.metadata.name, shipped.metadata.name);
  // `mode` defaults to enforce: the README may leave it out.
  const withMode = (p: Policy) => ({ ...p.spec, mode: p.spec.mode ?? 'enforce' });
  assert.deepEqual(withMode(shown), withMode(shipped));
});
