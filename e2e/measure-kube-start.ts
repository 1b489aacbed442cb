// How long the world's control plane takes to start (etcd + PKI + apiserver ready + anonymous discovery
// checked) and to stop, warm (binaries in the page cache): `node e2e/measure-kube-start.ts [runs]`.
// Prints each run and the median, in milliseconds.
import { startKube } from './world/kube.ts';
import { createRunDir } from './world/run-dir.ts';

const runs = Number(process.argv[2] ?? 3);
if (!Number.isInteger(runs) || runs < 1) throw new Error('usage: node e2e/measure-kube-start.ts [runs >= 1]');

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

// One start that is not counted, so every counted one is warm.
{
  const dir = createRunDir('sigward-kube-measure-');
  await (await startKube(dir)).stop();
  dir.remove();
}

const starts: number[] = [];
const stops: number[] = [];
for (let run = 0; run < runs; run++) {
  const dir = createRunDir('sigward-kube-measure-');
  try {
    const begin = performance.now();
    const kube = await startKube(dir);
    const ready = performance.now();
    await kube.stop();
    starts.push(Math.round(ready - begin));
    stops.push(Math.round(performance.now() - ready));
  } finally {
    dir.remove();
  }
}
console.log(`start ms: ${starts.join(' ')} (median ${median(starts)})`);
console.log(`stop ms:  ${stops.join(' ')} (median ${median(stops)})`);
