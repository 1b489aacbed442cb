// The bundle's P-384 checks run ahead on the thread pool (src/sigstore/parallel-checks.ts) against the
// plain synchronous verification, in ONE process, alternated round by round, on the sigstore-rs cosign
// v3 bundle with the prod root (no registry: the verification alone).
//   node bench/checks-ahead.ts [RUNS=300] [ROUNDS=8]
// One at a time: p50 wall per verification, the process's CPU (every thread) and the main thread's CPU
// per verification. Sixteen at once: verifications per second and process CPU per verification.
import { parseBundle } from '../src/sigstore/bundle.ts';
import { checkAhead, foreseenChecks, withCheckedSignatures } from '../src/sigstore/parallel-checks.ts';
import { verifyBundle } from '../src/sigstore/verify.ts';
import type { VerifyInput } from '../src/sigstore/verify.ts';
import { kubewarden } from '../test/sigstore/discover-fixtures.ts';
import { prodRoot } from '../test/sigstore/ext.ts';
import { median } from './stats.ts';

const runs = Number(process.argv[2] ?? '300');
const rounds = Number(process.argv[3] ?? '8');
const trust = prodRoot().material;
const raw = kubewarden.bundle();
const input = (): VerifyInput => ({
  bundle: parseBundle(raw),
  trust,
  signer: { kind: 'keyless' },
  content: { kind: 'image', digest: kubewarden.digest },
});
const variants: Record<string, () => Promise<void>> = {
  // One turn of the event loop, as the checks ahead take at least one.
  plain: async () => {
    const i = input();
    await new Promise((resolve) => setImmediate(resolve));
    verifyBundle(i);
  },
  ahead: async () => {
    const i = input();
    const checked = await checkAhead(foreseenChecks(i.bundle, trust));
    withCheckedSignatures(checked, () => verifyBundle(i));
  },
};

const ms = (u: { user: number; system: number }): number => (u.user + u.system) / 1000;
const one: Record<string, { wall: number[]; cpu: number[]; main: number[] }> = {};
const sixteen: Record<string, { rate: number[]; cpu: number[] }> = {};
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? ['plain', 'ahead'] : ['ahead', 'plain'];
  for (const name of order) {
    const verify = variants[name]!;
    const walls: number[] = [];
    const cpu0 = process.cpuUsage();
    const main0 = process.threadCpuUsage();
    for (let k = 0; k < runs; k++) {
      const t = performance.now();
      await verify();
      walls.push(performance.now() - t);
    }
    const o = (one[name] ??= { wall: [], cpu: [], main: [] });
    o.wall.push(median(walls));
    o.cpu.push(ms(process.cpuUsage(cpu0)) / runs);
    o.main.push(ms(process.threadCpuUsage(main0)) / runs);

    let left = runs;
    const cpu1 = process.cpuUsage();
    const t = performance.now();
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (left-- > 0) await verify();
      }),
    );
    const s = (sixteen[name] ??= { rate: [], cpu: [] });
    s.rate.push(runs / ((performance.now() - t) / 1000));
    s.cpu.push(ms(process.cpuUsage(cpu1)) / runs);
  }
}
const f = (xs: number[], digits = 2): string => median(xs).toFixed(digits);
console.log(
  JSON.stringify({ one, sixteen }, (_k, v: unknown) =>
    typeof v === 'number' ? Math.round(v * 100) / 100 : v,
  ),
);
console.log(`medians of ${rounds} alternated rounds of ${runs}`);
for (const name of ['plain', 'ahead']) {
  const o = one[name]!;
  const s = sixteen[name]!;
  console.log(
    `${name}: one at a time p50 ${f(o.wall)} ms, CPU ${f(o.cpu)} ms (main thread ${f(o.main)}); ` +
      `16 at once ${f(s.rate, 0)}/s, CPU ${f(s.cpu)} ms`,
  );
}
