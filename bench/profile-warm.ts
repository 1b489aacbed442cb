// Profiling aid for the warm /validate path (#14): runs the real `sigward webhook` (policies from a
// directory, the public-good root from a file) with `--cpu-prof`, warms its cache with one review,
// drives cache hits with bench/load.ts, then stops it so the profile holds mostly that.
//   node bench/profile-warm.ts [CONNECTIONS] [REQUESTS] [PROFILE_DIR]     (NOPROF=1: no profiler, CPU only)
// Prints the load client's figures and the webhook's CPU per request; the .cpuprofile lands in
// PROFILE_DIR (default a new temporary directory, printed).
//   WARMUP=20000: unmeasured requests at 16 connections first (the default with ALLOC=1).
//   SIGWARD_ROOT=/work/wt-perf-baseline5: the webhook of another checkout (e.g. the baseline's).
//   WEBHOOK_ARGS="--log-level=warn": more flags for the webhook.
//   BARE=1: the same against bench/bare-server.ts (the bare fastify baseline).
//   SERVER_STDOUT=FILE: the server's stdout appended to FILE (with WEBHOOK_NODE_FLAGS=--trace-gc: its GCs).
//   ALLOC=1 node bench/profile-warm.ts 1 5000   allocation instead of CPU (bench/alloc-probe.ts): after
//     WARMUP (default 20000) unmeasured requests at 16 connections, the bytes allocated per cached
//     review, scavenges per 10k reviews and the functions that allocated most; the .heapprofile lands
//     in PROFILE_DIR. WEBHOOK_NODE_FLAGS="--no-turbo-inlining": each allocation under the function that
//     makes it (inlined functions' allocations count as their caller's otherwise).
//   TAIL=1 node bench/profile-warm.ts 16 2000   what makes the tail of the server-side time
//     (bench/tail-probe.ts): after WARMUP (default 20000) requests, WINDOWS (default 5) windows of
//     REQUESTS each; per window the distribution, GCs, stdout writes, event-loop turns and what the
//     requests at or above p99 overlapped, as JSON lines. TAIL_ROOTS=ROOT,ROOT,bare: several servers
//     side by side (checkouts, `bare` for bench/bare-server.ts), windows alternated between them.
//     HOOKS=1 adds async resources per request, PHASES=1 where each request's time went. An entry may
//     be a server script (`bench/server-only.ts`, started as bare-server.ts is) and may carry
//     environment variables for its process only: `ROOT?K=V&K2=V2`, `bench/server-only.ts?LOG=warn`.
//     Per window `turns` says how the reviews shared turns of the event loop: the share answered in a
//     turn of 16 and alone, and per turn of 16 its length, the time per request read and per finish.
import { execFile, spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startDockerRegistry } from '../test/support/docker-registry.ts';
import { makeTestTls } from '../test/support/tls.ts';
import * as harness from '../test/engine/harness.ts';
import { kubewarden } from '../test/sigstore/discover-fixtures.ts';
import { PROD_ROOT_PATH } from '../test/sigstore/ext.ts';

/** user + system CPU of a process in clock ticks (/proc/PID/stat fields 14 and 15). */
const CLOCK_TICKS = 100;
function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
    .replace(/^.*\) /s, '')
    .split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

const connections = process.argv[2] ?? '16';
const requests = process.argv[3] ?? '20000';
const here = fileURLToPath(new URL('.', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sigward-profile-'));
const profiles = process.argv[4] ?? join(dir, 'profiles');
const registry = await startDockerRegistry();
try {
  await harness.pushFixtures(registry.host);
  const policies = join(dir, 'policies');
  mkdirSync(policies);
  const policy = harness.clusterPolicy(
    'kubewarden',
    ['127.0.0.1:*/signed/**'],
    [harness.kubewardenAuthority()],
  );
  writeFileSync(join(policies, 'kubewarden.yaml'), JSON.stringify(policy));
  const review = harness.podReview([`${registry.host}/signed/kubewarden@${kubewarden.digest}`]);
  const tls = makeTestTls(dir);
  writeFileSync(join(dir, 'review.json'), JSON.stringify(review));
  writeFileSync(join(dir, 'ca.pem'), tls.caPem);
  const env: NodeJS.ProcessEnv = { ...process.env, KUBECONFIG: '/nonexistent', HOME: '/nonexistent' };
  delete env['KUBERNETES_SERVICE_HOST'];
  const alloc = process.env['ALLOC'] !== undefined;
  const tail = process.env['TAIL'] !== undefined;
  /** BARE=1: bench/bare-server.ts (the bare fastify baseline) instead of the webhook. */
  const bare = process.env['BARE'] !== undefined;
  const cpuProfile = process.env['NOPROF'] === undefined && !alloc && !tail;
  /** SERVER_STDOUT=FILE: the servers' stdout appended there (their log lines; `--trace-gc` output). */
  const serverStdout = process.env['SERVER_STDOUT'];
  if (alloc) mkdirSync(profiles, { recursive: true });
  /** One server under test: a sigward checkout's webhook, 'bare' (bench/bare-server.ts) or a server
   *  script, with `?K=V&…` environment variables for it. */
  const start = async (root: string) => {
    const [script, query] = root.split('?');
    const isScript = script!.endsWith('.ts');
    const isBare = root === 'bare' || isScript;
    const extraEnv = Object.fromEntries(new URLSearchParams(query ?? ''));
    const child = spawn(
      process.execPath,
      [
        // More node/V8 flags for the webhook, e.g. --no-turbo-inlining to see allocations by function.
        ...(process.env['WEBHOOK_NODE_FLAGS'] ?? '').split(' ').filter(Boolean),
        ...(alloc ? ['--import', pathToFileURL(join(here, 'alloc-probe.ts')).href] : []),
        ...(tail ? ['--import', pathToFileURL(join(here, 'tail-probe.ts')).href] : []),
        ...(cpuProfile ? ['--cpu-prof', `--cpu-prof-dir=${profiles}`] : []),
        ...(isBare
          ? [isScript ? script! : join(here, 'bare-server.ts'), tls.certFile, tls.keyFile]
          : [
              join(script!, 'bin/sigward'),
              'webhook',
              '--listen=127.0.0.1:0',
              `--policies=${policies}`,
              `--trusted-root=${PROD_ROOT_PATH}`,
              `--tls-cert=${tls.certFile}`,
              `--tls-key=${tls.keyFile}`,
              // More webhook flags, e.g. --log-level=warn to see what the admission line costs.
              ...(process.env['WEBHOOK_ARGS'] ?? '').split(' ').filter(Boolean),
            ]),
      ],
      {
        env: alloc ? { ...env, ...extraEnv, ALLOC_PROFILE_DIR: profiles } : { ...env, ...extraEnv },
        stdio: ['ignore', 'pipe', 'pipe', ...(alloc || tail ? (['ipc'] as const) : [])],
      },
    );
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let err = '';
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      // The webhook's JSON lines (one per review) are read and dropped as a container runtime would.
      child.stdout!.on('data', (c: Buffer) => {
        if (serverStdout !== undefined) appendFileSync(serverStdout, c);
        if (!isBare) return;
        out += c.toString();
        const m = /"url":"([^"]+)"/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.stderr!.on('data', (c: Buffer) => {
        err += c.toString();
        const m = /listening on (https:\/\/127\.0\.0\.1:\d+)/.exec(err);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`webhook exited ${code}: ${err}`)));
    });
    const load = (n: string, conns = connections) =>
      promisify(execFile)(process.execPath, [
        join(here, 'load.ts'),
        `${url}/validate`,
        join(dir, 'review.json'),
        join(dir, 'ca.pem'),
        conns,
        n,
      ]);
    /** Sends a message to the probe inside the server and resolves to its answer. */
    const ask = (message: string): Promise<Record<string, unknown>> =>
      new Promise((resolve) => {
        child.once('message', (answer) => resolve(answer as Record<string, unknown>));
        child.send(message);
      });
    const stop = async (): Promise<void> => {
      child.kill('SIGTERM');
      await exited;
    };
    return { pid: child.pid!, load, ask, stop };
  };
  // The JIT's steady state, as a webhook runs for days (by default only before measuring allocation).
  const warmUp = process.env['WARMUP'] ?? (alloc || tail ? '20000' : '0');
  if (tail) {
    // Several servers side by side, windows alternated round by round so load bursts hit all alike.
    const roots = (process.env['TAIL_ROOTS'] ?? join(here, '..')).split(',');
    const servers = [];
    for (const root of roots) {
      const server = await start(root);
      await server.load('100');
      if (warmUp !== '0') await server.load(warmUp, '16');
      servers.push({ root, ...server });
    }
    for (let w = 0; w < Number(process.env['WINDOWS'] ?? 5); w++) {
      for (const server of w % 2 === 0 ? servers : [...servers].reverse()) {
        await server.ask('tail-start');
        const { stdout } = await server.load(requests);
        const report = await server.ask('tail-stop');
        const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
        console.log(
          JSON.stringify({ server: server.root, load, client: JSON.parse(stdout) as unknown, ...report }),
        );
      }
    }
    for (const server of servers) await server.stop();
  } else if (alloc) {
    const webhook = await start(bare ? 'bare' : (process.env['SIGWARD_ROOT'] ?? join(here, '..')));
    const { load, ask } = webhook;
    await load('100'); // the first review verifies; the rest hit the cache
    if (warmUp !== '0') await load(warmUp, '16');
    await ask('alloc-start');
    const { stdout } = await load(requests);
    const report = (await ask('alloc-stop')) as {
      bytes: number;
      requests: number;
      scavenges: number;
      markCompacts: number;
      top: { site: string; bytes: number }[];
    };
    await webhook.stop();
    const per = (n: number): string => (n / report.requests).toFixed(0);
    console.log(stdout.trim());
    console.log(
      `${report.requests} reviews: ${per(report.bytes)} bytes allocated per review; ` +
        `${((report.scavenges * 10_000) / report.requests).toFixed(1)} scavenges and ` +
        `${((report.markCompacts * 10_000) / report.requests).toFixed(1)} mark-compacts per 10k reviews`,
    );
    for (const { site, bytes } of report.top) console.log(`${per(bytes).padStart(7)}  ${site}`);
  } else {
    const webhook = await start(bare ? 'bare' : (process.env['SIGWARD_ROOT'] ?? join(here, '..')));
    await webhook.load('100'); // the first review verifies; the rest hit the cache
    if (warmUp !== '0') await webhook.load(warmUp, '16');
    const before = cpuTicks(webhook.pid);
    const { stdout } = await webhook.load(requests);
    const usedUs = ((cpuTicks(webhook.pid) - before) / CLOCK_TICKS) * 1e6;
    await webhook.stop();
    console.log(stdout.trim(), `webhook CPU µs/req ${(usedUs / Number(requests)).toFixed(0)}`);
  }
  console.log(`profile in ${profiles}`);
} finally {
  await registry.stop();
}
