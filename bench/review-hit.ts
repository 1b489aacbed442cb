// The engine's cache-hit path alone, in a loop: CPU per `handleNow` of the review bench/profile-warm.ts
// sends (one Pod, the keyless kubewarden image, its verdict cached), each on a freshly parsed body as
// the server hands it over, through the engine of one or more source trees alternated round by round.
//   node bench/review-hit.ts --root . --root /work/wt-perf-baseline8 [--reviews 200000] [--rounds 7]
// With `--cpu-prof --cpu-prof-interval 20` before the script: where a cached review's time goes.
import { parseArgs } from 'node:util';
import { join, resolve } from 'node:path';
import { startDockerRegistry } from '../test/support/docker-registry.ts';
import { median } from './stats.ts';

const { values } = parseArgs({
  options: {
    root: { type: 'string', multiple: true },
    reviews: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '7' },
    route: { type: 'string', default: 'validate' },
  },
});
const roots = (values.root ?? ['.']).map((r) => resolve(r));
const reviews = Number(values.reviews);
const rounds = Number(values.rounds);
const route = values.route as 'validate' | 'mutate';

const registry = await startDockerRegistry();
/* eslint-disable @typescript-eslint/no-explicit-any -- modules of another checkout, typed by use */
const trees = [];
try {
  for (const root of roots) {
    const harness = (await import(join(root, 'test/engine/harness.ts'))) as any;
    await harness.pushFixtures(registry.host);
    const policy = harness.clusterPolicy(
      'kubewarden',
      ['127.0.0.1:*/signed/**'],
      [harness.kubewardenAuthority()],
    );
    const e = harness.engineUnderTest([policy], { deadlineMs: 60_000 });
    const { kubewarden } = (await import(join(root, 'test/sigstore/discover-fixtures.ts'))) as any;
    const text = JSON.stringify(
      harness.podReview([`${registry.host}/signed/kubewarden@${kubewarden.digest}`]),
    );
    const first = harness.responseOf(await e.review(JSON.parse(text), route));
    if (!first.allowed) throw new Error(first.status?.message);
    trees.push({ root, e, text });
  }
  const cpu = new Map<string, number[]>();
  // The body's JSON.parse alone, in the same rounds: what each tree's figure holds besides the engine.
  const parseOnly = 'JSON.parse alone';
  for (let round = 0; round < rounds; round++) {
    const started = process.cpuUsage();
    let kept = 0;
    for (let i = 0; i < reviews; i++) kept += (JSON.parse(trees[0]!.text) as object) === null ? 0 : 1;
    const used = process.cpuUsage(started);
    if (kept !== reviews) throw new Error('a body did not parse');
    cpu.set(parseOnly, [...(cpu.get(parseOnly) ?? []), (used.user + used.system) / reviews]);
    for (const { root, e, text } of round % 2 === 0 ? trees : [...trees].reverse()) {
      let answered = 0;
      const started = process.cpuUsage();
      for (let i = 0; i < reviews; i++) {
        const result = e.engine.handleNow(JSON.parse(text), route);
        if (result.ok === true) answered++;
      }
      const used = process.cpuUsage(started);
      if (answered !== reviews)
        throw new Error(`${root}: ${reviews - answered} reviews not answered at once`);
      cpu.set(root, [...(cpu.get(root) ?? []), (used.user + used.system) / reviews]);
    }
  }
  console.log(
    `engine.handleNow of a cached review incl. JSON.parse of its body, CPU µs (median of ${rounds} rounds)`,
  );
  for (const root of [...roots, parseOnly])
    console.log(
      `  ${root}: ${median(cpu.get(root)!).toFixed(2)} (${cpu
        .get(root)!
        .map((x) => x.toFixed(2))
        .join(' ')})`,
    );
  for (const { e } of trees) await e.close();
} finally {
  await registry.stop();
}
