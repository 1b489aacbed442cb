// The chart's and the image's Node options (V8's heap sizes, docs/performance.md) are ones Node
// accepts in NODE_OPTIONS: a flag Node refuses there stops the process before sigward runs, so every Pod
// would crash-loop. The chart, the Dockerfile and scripts/build-image.sh carry the same options, the
// Deployment passes the value on, and the old space they cap fits the chart's memory limit; the same
// three carry the same glibc malloc settings.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { REPO_ROOT } from '../sigstore/ext.ts';

const read = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');
const values = parse(read('charts/sigward/values.yaml')) as {
  nodeOptions?: unknown;
  mallocEnv?: Record<string, unknown>;
  resources: { limits: { memory: string } };
};
const chartOptions = String(values.nodeOptions);

/** Node's exit status and stderr when started with these NODE_OPTIONS. */
function startWith(options: string): { status: number | null; stderr: string } {
  const run = spawnSync(process.execPath, ['-e', 'process.exit(0)'], {
    env: { ...process.env, NODE_OPTIONS: options },
    encoding: 'utf8',
  });
  return { status: run.status, stderr: run.stderr };
}

test('the chart sets NODE_OPTIONS from values.nodeOptions, and Node starts with them', () => {
  assert.match(chartOptions, /--max-semi-space-size=\d+/);
  assert.match(chartOptions, /--max-old-space-size=\d+/);
  assert.match(
    read('charts/sigward/templates/deployment.yaml'),
    /- name: NODE_OPTIONS\n\s+value: \{\{ \. \| quote \}\}/,
  );
  assert.deepEqual(startWith(chartOptions), { status: 0, stderr: '' });
});

test("the chart's options give the webhook the gc extension its collection after a burst needs (src/cli/idle-collection.ts)", () => {
  const run = spawnSync(process.execPath, ['-e', 'process.stdout.write(typeof gc)'], {
    env: { ...process.env, NODE_OPTIONS: chartOptions },
    encoding: 'utf8',
  });
  assert.equal(run.stdout, 'function', `NODE_OPTIONS=${chartOptions}`);
});

test("the old space fits the chart's memory limit with room for what is not heap", () => {
  // Node's binary (~55 MiB mapped), malloc's arenas, Buffers and the young generation live outside the
  // old space: half the limit is left for them, as Node itself leaves three quarters without a flag.
  const oldSpaceMiB = Number(/--max-old-space-size=(\d+)/.exec(chartOptions)?.[1]);
  const limit = /^(\d+)Mi$/.exec(values.resources.limits.memory);
  assert.ok(limit, `limits.memory in Mi: ${values.resources.limits.memory}`);
  assert.ok(oldSpaceMiB > 0, `--max-old-space-size in ${chartOptions}`);
  assert.ok(oldSpaceMiB <= Number(limit[1]) / 2, `${oldSpaceMiB} MiB of old space under a ${limit[0]} limit`);
});

test('the image carries the same options as the chart, built either way', () => {
  const env = /^ENV NODE_OPTIONS="([^"]*)"$/m.exec(read('Dockerfile'));
  assert.equal(env?.[1], chartOptions);
  const script = read('scripts/build-image.sh');
  assert.equal(/^node_options='([^']*)'$/m.exec(script)?.[1], chartOptions);
  assert.match(script, /--env="NODE_OPTIONS=\$node_options"/);
});

test("glibc's malloc settings: the chart passes values.mallocEnv on, and the image sets the same, built either way", () => {
  const chart = Object.entries(values.mallocEnv ?? {}).map(([name, value]) => `${name}=${String(value)}`);
  assert.deepEqual(chart, [
    'MALLOC_ARENA_MAX=2',
    'MALLOC_MMAP_THRESHOLD_=131072',
    'MALLOC_TRIM_THRESHOLD_=131072',
  ]);
  assert.match(
    read('charts/sigward/templates/deployment.yaml'),
    /\{\{- range \$name, \$value := \.Values\.mallocEnv \}\}\n\s+- name: \{\{ \$name \}\}\n\s+value: \{\{ \$value \| quote \}\}/,
  );
  const dockerfile = /^ENV (MALLOC_.*)$/m.exec(read('Dockerfile'))?.[1]?.split(' ');
  assert.deepEqual(dockerfile, chart);
  const script = [...read('scripts/build-image.sh').matchAll(/--env=(MALLOC_\w+=\S+)/g)].map((m) => m[1]);
  assert.deepEqual(script, chart);
  // glibc reads each as a number: Node starts with them.
  const env = Object.fromEntries(chart.map((c) => c.split('=') as [string, string]));
  const run = spawnSync(process.execPath, ['-e', 'process.exit(0)'], { env: { ...process.env, ...env } });
  assert.equal(run.status, 0);
});

test('a flag Node refuses in NODE_OPTIONS is caught by this check (it fails, it is not ignored)', () => {
  const refused = startWith('--max-semi-space-size=1 --no-such-v8-flag-in-node-options');
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /not allowed in NODE_OPTIONS/);
});
