// `node bench/policy-test.ts`: what one `sigward policy test` run costs, process start included, against
// its baseline measured in the same run: `sigward verify` of the same image (same process start, same
// registry, same signature). Debian's docker-registry on 127.0.0.1 holds the public-good keyless bundle
// of kubewarden-controller; the prod trusted root comes from a file (no TUF). Medians of --runs runs,
// the three commands interleaved so load changes hit them alike.
//
//   node bench/policy-test.ts              # 7 runs each
//   node bench/policy-test.ts --runs=15
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { startDockerRegistry } from '../test/support/docker-registry.ts';
import { pushFixtures } from '../test/engine/harness.ts';
import { kubewarden } from '../test/sigstore/discover-fixtures.ts';
import { PROD_ROOT_PATH, REPO_ROOT } from '../test/sigstore/ext.ts';
import { median } from './stats.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' } } });
const runs = Math.max(3, Number(values.runs));
const registry = await startDockerRegistry();
try {
  const fixtures = await pushFixtures(registry.host);
  const dir = mkdtempSync(join(tmpdir(), 'sigward-bench-policy-test-'));
  const policy = join(dir, 'policy.yaml');
  writeFileSync(
    policy,
    stringify({
      apiVersion: 'policy.sigward.dev/v1alpha1',
      kind: 'ClusterImagePolicy',
      metadata: { name: 'releases' },
      spec: {
        images: [`${registry.host}/signed/**`],
        authorities: [
          {
            name: 'release',
            keyless: { identities: [{ issuer: kubewarden.issuer, subject: kubewarden.subject }] },
          },
        ],
      },
    }),
  );
  const image = fixtures.keylessImage(registry.host);
  const common = ['--trusted-root', PROD_ROOT_PATH, '--cloud-credentials', 'none'];
  const commands = {
    'policy test, 1 image': ['policy', 'test', ...common, '-p', policy, '--image', image],
    'policy test, 20 inputs of one digest': [
      'policy',
      'test',
      ...common,
      '-p',
      policy,
      ...Array.from({ length: 20 }, () => ['--image', image]).flat(),
    ],
    'verify (baseline)': [
      'verify',
      ...common,
      `--certificate-identity=${kubewarden.subject}`,
      `--certificate-oidc-issuer=${kubewarden.issuer}`,
      image,
    ],
  };
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
  for (let i = 0; i < runs; i++)
    for (const [name, args] of Object.entries(commands)) {
      const start = performance.now();
      execFileSync(join(REPO_ROOT, 'bin/sigward'), args, {
        env: { ...process.env, HOME: dir },
        stdio: 'ignore',
      });
      times[name]!.push(performance.now() - start);
    }
  const baseline = median(times['verify (baseline)']!);
  for (const [name, xs] of Object.entries(times))
    console.log(
      `${name.padEnd(38)} median ${median(xs).toFixed(0).padStart(5)} ms  (${(median(xs) / baseline).toFixed(2)}x verify)`,
    );
  console.log(
    `${runs} runs each; load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
} finally {
  await registry.stop();
}
