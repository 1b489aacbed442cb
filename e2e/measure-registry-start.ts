// Warm start (and stop) time of the world's registries: `node e2e/measure-registry-start.ts [runs]`
// (default 5). One discarded warm-up start of each first (binaries into the page cache), then `runs`
// measured starts of each, stopped before the next. "Start" ends when /v2/ answers and the referrers
// mode was checked with a real request, i.e. when startOlareg / startDockerRegistry / startDistributionV3
// return.
import { startDistributionV3, startDockerRegistry, startOlareg, type Registry } from './world/registry.ts';
import { createRunDir, type RunDir } from './world/run-dir.ts';

const runs = Number(process.argv[2] ?? 5);
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

const kinds: Record<string, (runDir: RunDir) => Promise<Registry>> = {
  'olareg (referrers on)': (d) => startOlareg(d, { referrers: true }),
  'olareg (referrers off)': (d) => startOlareg(d, { referrers: false }),
  'docker-registry 2.8': (d) => startDockerRegistry(d),
  'distribution v3': (d) => startDistributionV3(d),
};

const runDir = createRunDir('sigward-measure-registry-');
try {
  for (const [name, start] of Object.entries(kinds)) {
    const starts: number[] = [];
    const stops: number[] = [];
    for (let i = 0; i <= runs; i++) {
      const began = performance.now();
      const registry = await start(runDir);
      const ready = performance.now();
      await registry.stop();
      const stopped = performance.now();
      if (i === 0) continue;
      starts.push(ready - began);
      stops.push(stopped - ready);
    }
    const list = starts.map((ms) => ms.toFixed(0)).join(', ');
    console.log(
      `${name}: start median ${median(starts).toFixed(0)} ms (${list}), stop median ${median(stops).toFixed(0)} ms`,
    );
  }
} finally {
  runDir.remove();
}
