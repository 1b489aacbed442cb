// Start-up of the real `sigward webhook` from source (bin/sigward.js: src/ by Node's type stripping, as
// in development) and from the compiled build the image ships (`npm run build`: dist/bin/sigward.js),
// alternated start by start: time from spawn to the `listening` line, the process's CPU and RSS then.
// Policies from a directory and the public-good root from a file, so no cluster or network is needed.
//   npm run build && node bench/startup.ts [STARTS]        (default 10 starts of each, medians)
// NODE_OPTIONS is the chart's (charts/sigward/values.yaml nodeOptions), as deployed.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { PROD_ROOT_PATH } from '../test/sigstore/ext.ts';
import { median } from './stats.ts';

const root = resolve(import.meta.dirname, '..');
const starts = Number(process.argv[2] ?? 10);
const compiled = join(root, 'dist/bin/sigward.js');
if (!existsSync(compiled)) throw new Error(`${compiled} is missing: npm run build first`);
const entries = { source: join(root, 'bin/sigward.js'), build: compiled };
const nodeOptions = String(
  (parse(readFileSync(join(root, 'charts/sigward/values.yaml'), 'utf8')) as { nodeOptions?: unknown })
    .nodeOptions ?? '',
);
const policies = mkdtempSync(join(tmpdir(), 'sigward-startup-'));

/** CPU (user + system, clock ticks of 10 ms) and RSS of a running process, from /proc. */
function usage(pid: number): { cpuMs: number; rssMiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const rss = /^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return { cpuMs: (Number(stat[11]) + Number(stat[12])) * 10, rssMiB: Number(rss) / 1024 };
}

async function startOnce(entry: string): Promise<{ ms: number; cpuMs: number; rssMiB: number }> {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: nodeOptions, KUBECONFIG: '/nonexistent' };
  delete env['KUBERNETES_SERVICE_HOST'];
  const began = performance.now();
  const child = spawn(
    process.execPath,
    [entry, 'webhook', '--listen=127.0.0.1:0', `--policies=${policies}`, `--trusted-root=${PROD_ROOT_PATH}`],
    { env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  try {
    const ms = await new Promise<number>((done, fail) => {
      let err = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        err += chunk;
        if (err.includes('listening on')) done(performance.now() - began);
      });
      child.once('exit', (code) => fail(new Error(`${entry} exited ${code}: ${err}`)));
    });
    return { ms, ...usage(child.pid!) };
  } finally {
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGTERM');
    await exited;
  }
}

const runs: Record<keyof typeof entries, { ms: number; cpuMs: number; rssMiB: number }[]> = {
  source: [],
  build: [],
};
try {
  for (let i = 0; i < starts; i++)
    for (const name of (i % 2 === 0 ? ['source', 'build'] : ['build', 'source']) as (keyof typeof entries)[])
      runs[name].push(await startOnce(entries[name]));
} finally {
  rmSync(policies, { recursive: true, force: true });
}
console.log(
  `sigward webhook start-up, NODE_OPTIONS="${nodeOptions}", medians of ${starts} alternated starts`,
);
console.log('from     spawn→listening ms  CPU ms  RSS MiB');
for (const name of ['source', 'build'] as const) {
  const r = runs[name];
  console.log(
    `${name.padEnd(8)} ${median(r.map((x) => x.ms))
      .toFixed(0)
      .padStart(18)}  ${median(r.map((x) => x.cpuMs))
      .toFixed(0)
      .padStart(6)}  ${median(r.map((x) => x.rssMiB))
      .toFixed(0)
      .padStart(7)}`,
  );
}
