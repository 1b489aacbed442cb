// Start-up of the real `sigward webhook`, alternated start by start: time from spawn to the `listening`
// line, the process's CPU and RSS then (and, with --settle-ms, RSS that long after). Policies from a
// directory, so no cluster is needed.
//   npm run build && node bench/startup.ts [STARTS]   from source (bin/sigward.js: src/ by Node's type
//       stripping, as in development) vs the compiled build the image ships (dist/bin/sigward.js);
//       default 10 starts of each, medians
//   node bench/startup.ts --baseline DIR [STARTS]      this tree vs another checkout (its own
//       node_modules), each compiled by its own tsc into its .scratch-startup-build/ (as the image ships
//       it; a dist/ in use is left alone), or with --run-from source both from bin/sigward.js
//   --trust file          the public-good root from a trusted_root.json file (--trusted-root; default):
//                         no network, no TUF
//   --trust public-good   the root embedded in @sigstore/tuf, refreshed through TUF in the background
//                         (its first refresh starts before the listener opens; offline it fails)
//   --settle-ms N         also sample RSS N ms after the listening line (what a background start left)
// NODE_OPTIONS is the chart's (charts/sigward/values.yaml nodeOptions), as deployed.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { PROD_ROOT_PATH } from '../test/sigstore/ext.ts';
import { median } from './stats.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    baseline: { type: 'string' },
    trust: { type: 'string', default: 'file' },
    'settle-ms': { type: 'string', default: '0' },
    'run-from': { type: 'string', default: 'build' },
  },
});
const trust = values.trust;
if (trust !== 'file' && trust !== 'public-good') throw new Error('--trust is file or public-good');
const settleMs = Number(values['settle-ms']);
const root = resolve(import.meta.dirname, '..');
const starts = Number(positionals[0] ?? 10);
const entries: Record<string, string> = {};
if (values.baseline === undefined) {
  const compiled = join(root, 'dist/bin/sigward.js');
  if (!existsSync(compiled)) throw new Error(`${compiled} is missing: npm run build first`);
  entries['source'] = join(root, 'bin/sigward.js');
  entries['build'] = compiled;
} else {
  if (values['run-from'] !== 'build' && values['run-from'] !== 'source')
    throw new Error('--run-from is build or source');
  for (const [name, tree] of [
    ['baseline', resolve(values.baseline)],
    ['this tree', root],
  ] as const) {
    if (values['run-from'] === 'source') {
      entries[name] = join(tree, 'bin/sigward.js');
      continue;
    }
    const out = join(tree, '.scratch-startup-build');
    rmSync(out, { recursive: true, force: true });
    const tsc = join(tree, 'node_modules/typescript/bin/tsc');
    execFileSync(process.execPath, [tsc, '-p', join(tree, 'tsconfig.build.json'), '--outDir', out]);
    entries[name] = join(out, 'bin/sigward.js');
  }
}
const names = Object.keys(entries);
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

interface Start {
  readonly ms: number;
  readonly cpuMs: number;
  readonly rssMiB: number;
  readonly settledRssMiB: number;
}

async function startOnce(entry: string): Promise<Start> {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: nodeOptions, KUBECONFIG: '/nonexistent' };
  delete env['KUBERNETES_SERVICE_HOST'];
  const began = performance.now();
  const child = spawn(
    process.execPath,
    [
      entry,
      'webhook',
      '--listen=127.0.0.1:0',
      `--policies=${policies}`,
      ...(trust === 'file' ? [`--trusted-root=${PROD_ROOT_PATH}`] : []),
    ],
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
    const atReady = usage(child.pid!);
    if (settleMs > 0) await sleep(settleMs);
    return { ms, ...atReady, settledRssMiB: settleMs > 0 ? usage(child.pid!).rssMiB : NaN };
  } finally {
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGTERM');
    await exited;
  }
}

const runs: Record<string, Start[]> = Object.fromEntries(names.map((name) => [name, []]));
try {
  for (let i = 0; i < starts; i++)
    for (const name of i % 2 === 0 ? names : [...names].reverse())
      runs[name]!.push(await startOnce(entries[name]!));
} finally {
  rmSync(policies, { recursive: true, force: true });
}
console.log(
  `sigward webhook start-up (trust: ${trust === 'file' ? '--trusted-root FILE' : 'public-good TUF'}` +
    `${values.baseline === undefined ? '' : `, from ${values['run-from']}`}), ` +
    `NODE_OPTIONS="${nodeOptions}", medians of ${starts} alternated starts`,
);
const settled = settleMs > 0 ? `  RSS MiB ${settleMs} ms later` : '';
console.log(`from        spawn→listening ms  CPU ms  RSS MiB${settled}`);
const column = (r: readonly Start[], pick: (x: Start) => number, width: number, digits = 0): string =>
  median(r.map(pick)).toFixed(digits).padStart(width);
for (const name of names) {
  const r = runs[name]!;
  console.log(
    `${name.padEnd(11)} ${column(r, (x) => x.ms, 18)}  ${column(r, (x) => x.cpuMs, 6)}  ${column(r, (x) => x.rssMiB, 7, 1)}` +
      (settleMs > 0 ? `  ${column(r, (x) => x.settledRssMiB, settled.length - 2, 1)}` : ''),
  );
}
if (names.length === 2) {
  const [a, b] = names.map((name) => runs[name]!);
  const ratio = (pick: (x: Start) => number): string =>
    (median(b!.map(pick)) / median(a!.map(pick))).toFixed(2);
  console.log(
    `${names[1]} ÷ ${names[0]}: spawn→listening ${ratio((x) => x.ms)}×, CPU ${ratio((x) => x.cpuMs)}×, ` +
      `RSS ${ratio((x) => x.rssMiB)}×${settleMs > 0 ? `, RSS later ${ratio((x) => x.settledRssMiB)}×` : ''}`,
  );
}
