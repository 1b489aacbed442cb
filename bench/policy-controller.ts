// `npm run bench:policy-controller`: sigward side by side with sigstore/policy-controller's webhook
// (the version pinned in e2e/tools/policy-controller/, built on demand by `install.sh --tier bench`).
// Both run as real processes on loopback (policy-controller against a real kube-apiserver + etcd, as
// it needs; see policy-controller-world.ts); the same AdmissionReview of a Pod is POSTed straight to
// each over HTTPS keep-alive by a separate load process, in alternated rounds (A B, B A, A B, ...) so
// machine load hits both alike. Per round and webhook:
//   cold 1 / cold 16  every review names an image neither webhook has seen: the same signed digest,
//                     each time in a repository of its own (one registry copy per review), so sigward's
//                     verdict cache (keyed by repository and digest) misses and no two reviews in flight
//                     share a computation; policy-controller has no cache, so all its reviews are cold;
//   warm 1            one image again and again (sigward answers from its cache, policy-controller
//                     verifies every time);
//   CPU per review    utime + stime of the webhook's process (/proc/PID/stat) over the run / reviews;
//   registry requests per cold review (counted in the registry's access log);
//   RSS               VmRSS of the webhook's process after the round.
// Prints a table of medians over the rounds with their range, and the JSON of every round.
//   npm run bench:policy-controller
//   npm run bench:policy-controller -- --rounds 3 --cold 30 --cold16 160 --warm 300 --format legacy
//   npm run bench:policy-controller -- --pod real   (a real cluster's Pod review, ~5 KiB: bench/real-pod.ts)
// Two sigward trees side by side (alternated in the same rounds, same registry and load), with or
// without the peer, and node flags for sigward's process (both trees), e.g. to profile it under load:
//   npm run bench:policy-controller -- --baseline /work/wt-perf-baseline9 --peer none
//   npm run bench:policy-controller -- --peer none --node-args='--cpu-prof --cpu-prof-dir=/tmp/prof'
// `--leaf-memo` leaves sigward's leaf memo on: the same certificate again for every cold image after
// the first (by default each is verified as a certificate seen for the first time).
// `--verify-alone` adds verifyImage alone (bench/policy-controller-verify.ts, this tree's code, the
// chart's NODE_OPTIONS) on the same images, its process's CPU counted as the webhook's is: what a cold
// review costs beyond its verification (HTTPS, the AdmissionReview, the engine, logging, metrics):
//   npm run bench:policy-controller -- --verify-alone --baseline /work/wt-perf-baseline9 --warmup 300
// The CPU per review is /proc's utime + stime in 10 ms clock ticks: a load of N reviews reads it to
// ±10/N ms (30 warm reviews at ~0.1 ms each read as one tick, 0.33 ms).
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { RegistryClient } from '../src/oci/client.ts';
import { podReview } from '../test/engine/harness.ts';
import { realPodReview } from './real-pod.ts';
import { startDockerRegistry } from '../test/support/docker-registry.ts';
import {
  fulcioRekor,
  kubewarden,
  pushBundleReferrer,
  pushLegacySignature,
} from '../test/sigstore/discover-fixtures.ts';
import { kubectlOk } from '../e2e/world/kubectl.ts';
import { createRunDir } from '../e2e/world/run-dir.ts';
import { repoRoot } from '../e2e/world/tools.ts';
import {
  isVerifier,
  policyControllerModule,
  startPolicyController,
  startSigward,
  startVerifier,
  type Load,
  type Participant,
  type SignedCase,
  type Verifier,
  type Webhook,
} from './policy-controller-world.ts';
import { median } from './stats.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    cold: { type: 'string', default: '30' },
    cold16: { type: 'string', default: '160' },
    warm: { type: 'string', default: '300' },
    /** Cold reviews each webhook gets before the first round (JIT, pools, lazy init), not measured. */
    warmup: { type: 'string', default: '30' },
    format: { type: 'string', default: 'legacy' },
    /** `small` (the harness's podReview, ~0.4 KiB) or `real` (a ReplicaSet's Pod as a cluster sends it, ~5 KiB: bench/real-pod.ts). */
    pod: { type: 'string', default: 'small' },
    /** Another checkout whose `sigward webhook` runs instead of this tree's (e.g. a baseline). */
    sigward: { type: 'string' },
    /** Another checkout whose `sigward webhook` runs as well, alternated with this tree's. */
    baseline: { type: 'string' },
    /**
     * Also `verifyImage` alone in a process of its own with the chart's NODE_OPTIONS (its cold rows:
     * the verification's share of a cold review; bench/policy-controller-verify.ts).
     */
    'verify-alone': { type: 'boolean', default: false },
    /** `policy-controller` (default) or `none`: sigward alone (no apiserver, no Go peer). */
    peer: { type: 'string', default: 'policy-controller' },
    /** Node flags for each sigward webhook, before its script (its NODE_OPTIONS stay the chart's). */
    'node-args': { type: 'string', default: '' },
    /** The baseline's own instead (e.g. the same tree with other flags: `--baseline .`). */
    'baseline-node-args': { type: 'string' },
    /**
     * Leave each sigward's leaf memo on: every cold image after the first then holds a certificate seen
     * before, as the images of one `cosign sign a b c` do. Off by default: each cold image's leaf is
     * verified as one seen for the first time (bench/leaf-memo-off.ts).
     */
    'leaf-memo': { type: 'boolean', default: false },
    /** Keep the webhooks' logs after a good run too (e.g. with --node-args=--trace-gc). */
    'keep-logs': { type: 'boolean', default: false },
    /** Set by the outer process for the one it runs in the network namespace. */
    inner: { type: 'string' },
  },
});
const rounds = Number(values.rounds);
const coldN = Number(values.cold);
const cold16N = Number(values.cold16);
const warmN = Number(values.warm);
const warmupN = Number(values.warmup);
const format = values.format;
if (format !== 'bundle' && format !== 'legacy') throw new Error('--format is bundle or legacy');
if (values.pod !== 'small' && values.pod !== 'real') throw new Error('--pod is small or real');
const withPeer = values.peer === 'policy-controller';
if (!withPeer && values.peer !== 'none') throw new Error('--peer is policy-controller or none');
const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));

// --- the Go-built peer, on demand, then the run in a network namespace of its own ---------------------
// Outside: build (or find cached) the peer and locate its module (both may need the Go proxy). Inside a
// fresh network namespace (only its own loopback): everything else, so policy-controller's fixed
// :8443 (see POLICY_CONTROLLER_PORT), 9090 and 8008 clash with nobody and nothing listens beyond lo.
if (values.inner === undefined) {
  const buildStart = performance.now();
  if (withPeer)
    execFileSync('bash', [path.join(repoRoot, 'e2e/tools/install.sh'), '--tier', 'bench'], {
      stdio: 'inherit',
    });
  const buildSeconds = ((performance.now() - buildStart) / 1000).toFixed(1);
  const module = withPeer ? policyControllerModule() : { dir: '', version: '' };
  const inner = spawnSync(
    'unshare',
    [
      '--net',
      '--',
      'sh',
      '-c',
      'ip link set lo up && exec "$@"',
      'sh',
      process.execPath,
      fileURLToPath(import.meta.url),
      ...process.argv.slice(2),
      `--inner=${JSON.stringify({ ...module, buildSeconds })}`,
    ],
    { stdio: 'inherit' },
  );
  if (inner.error !== undefined || inner.status === null)
    throw new Error(
      `could not run the bench in its own network namespace (unshare --net needs root or user namespaces): ${inner.error?.message ?? `signal ${inner.signal}`}`,
    );
  process.exit(inner.status);
}
const { buildSeconds, ...module } = JSON.parse(values.inner) as {
  dir: string;
  version: string;
  buildSeconds: string;
};

// --- the signed image, once per review -------------------------------------------------------------------
const image =
  format === 'bundle'
    ? { digest: kubewarden.digest, subject: kubewarden.subject, issuer: kubewarden.issuer }
    : { digest: fulcioRekor.digest, subject: fulcioRekor.subject, issuer: fulcioRekor.issuer };
const signed: SignedCase = { ...image, format, glob: '127.0.0.1:*/pc/**' };
const registry = await startDockerRegistry();
const client = new RegistryClient();
const perRound = 1 + coldN + 16 + cold16N;
const repositories = Array.from({ length: rounds * perRound }, (_, i) => `pc/cold-${i}`);
const warmRepository = 'pc/warm';
const warmupRepositories = Array.from({ length: warmupN }, (_, i) => `pc/warmup-${i}`);
const pushStart = performance.now();
const all = [warmRepository, ...warmupRepositories, ...repositories];
{
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < all.length) {
        const repo = { registry: registry.host, repository: all[next++]! };
        if (format === 'bundle') await pushBundleReferrer(client, repo, image.digest, kubewarden.bundle());
        else await pushLegacySignature(client, repo, image.digest, [fulcioRekor.layer()]);
      }
    }),
  );
}
await client.close();
process.stderr.write(
  `bench: ${all.length} signed copies in ${registry.host} (${format}) in ${((performance.now() - pushStart) / 1000).toFixed(1)} s\n`,
);

const review = (repository: string): string => {
  const ref = `${registry.host}/${repository}@${image.digest}`;
  return JSON.stringify(values.pod === 'real' ? realPodReview(ref) : podReview([ref]));
};

// --- measuring one process -------------------------------------------------------------------------------
const clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
/** The process's CPU so far, and its system (kernel) part: utime + stime, stime. */
const cpuMsOf = (pid: number): { cpu: number; sys: number } => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const [utime, stime] = [Number(fields[11]), Number(fields[12])];
  return { cpu: ((utime + stime) * 1000) / clockTicks, sys: (stime * 1000) / clockTicks };
};
const rssMiB = (pid: number): number =>
  Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
/** The registry's access log lines so far, as `METHOD what` (repository and digests left out). */
const registryRequests = (): string[] =>
  (readFileSync(registry.logFile, 'utf8').match(/"(GET|HEAD) \/v2\/[^ ]* HTTP\/[0-9.]+" \d+/g) ?? []).map(
    (line) =>
      line
        .slice(1)
        .replace(/ HTTP\/[0-9.]+"/, '')
        .replace(/\/v2\/.+\/(manifests|blobs)\//, '$1/')
        .replace(/sha256-[0-9a-f]{64}/g, 'sha256-<hex>') // tags: referrers fallback, `.sig`
        .replace(/sha256:[0-9a-f]{64}/g, '<digest>'),
  );
/** How often each kind of request came per review, e.g. {"GET manifests/sha256-<hex>.sig 200": 1}. */
const perReview = (requests: string[], reviews: number): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const r of requests) counts[r] = (counts[r] ?? 0) + 1;
  for (const r of Object.keys(counts)) counts[r] = Math.round((counts[r]! / reviews) * 100) / 100;
  return counts;
};

/** The apiserver's ServiceAccount and Secret reads so far (policy-controller's pull-secret lookup). */
let apiserverReads = async (): Promise<number> => 0;

const runDir = createRunDir('sigward-bench-pc-');
let loads = 0;
/** Every repository's image once, `connections` at a time: POSTed as reviews, or verified alone. */
async function load(w: Participant, connections: number, repos: string[]) {
  const requests0 = registryRequests().length;
  const reads0 = await apiserverReads();
  let answer: Load;
  if (isVerifier(w)) answer = await w.run(connections, repos);
  else {
    const file = path.join(runDir.root, `bodies-${++loads}.jsonl`);
    writeFileSync(file, repos.map(review).join('\n'));
    const cpu0 = cpuMsOf(w.pid);
    const { stdout } = await run(
      process.execPath,
      [
        path.join(here, 'policy-controller-load.ts'),
        w.url,
        w.caFile,
        w.servername,
        String(connections),
        file,
      ],
      { maxBuffer: 1 << 20 },
    );
    const cpu1 = cpuMsOf(w.pid);
    answer = {
      ...(JSON.parse(stdout) as Omit<Load, 'cpuMsPerReview' | 'sysMsPerReview'>),
      cpuMsPerReview: (cpu1.cpu - cpu0.cpu) / repos.length,
      sysMsPerReview: (cpu1.sys - cpu0.sys) / repos.length,
    };
  }
  const requests = registryRequests().slice(requests0);
  return {
    ...answer,
    registryPerReview: requests.length / repos.length,
    registryKinds: perReview(requests, repos.length),
    apiserverReadsPerReview: ((await apiserverReads()) - reads0) / repos.length,
  };
}

type Round = Awaited<ReturnType<typeof measure>>;
async function measure(w: Participant, round: number) {
  const mine = repositories.slice(round * perRound, (round + 1) * perRound);
  const cold1 = await load(w, 1, mine.slice(0, 1 + coldN));
  const cold16 = await load(w, 16, mine.slice(1 + coldN));
  // verifyImage has no cache: a warm row would be a cold one again.
  const warm1 = isVerifier(w)
    ? { ...cold1, p50Ms: NaN, p99Ms: NaN, rps: NaN, cpuMsPerReview: NaN, sysMsPerReview: NaN }
    : await load(
        w,
        1,
        Array.from({ length: warmN + 1 }, () => warmRepository),
      );
  return { cold1, cold16, warm1, rssMiB: rssMiB(w.pid) };
}

// --- the run ---------------------------------------------------------------------------------------------
const probe = review(warmRepository);
const results = new Map<string, Round[]>();
let failed = true;
let pc: Awaited<ReturnType<typeof startPolicyController>> | undefined;
let sw: Webhook | undefined;
let base: Webhook | undefined;
let verifier: Verifier | undefined;
try {
  if (withPeer) {
    const pcStart = performance.now();
    pc = await startPolicyController(runDir, signed, probe, module);
    process.stderr.write(
      `bench: ${pc.webhook.name} admitting after ${((performance.now() - pcStart) / 1000).toFixed(1)} s (apiserver included)` +
        (pc.leftOut.length > 0 ? `; its TrustRoot leaves out ${pc.leftOut.join(', ')}\n` : '\n'),
    );
    const kube = pc.kube;
    apiserverReads = async () => {
      const metrics = await kubectlOk(kube.kubectl, ['get', '--raw', '/metrics']);
      let n = 0;
      for (const m of metrics.matchAll(/^apiserver_request_total\{([^}]*)\} (\d+)/gm))
        if (/verb="GET"/.test(m[1]!) && /resource="(serviceaccounts|secrets)"/.test(m[1]!)) n += Number(m[2]);
      return n;
    };
  }
  const words = (flags: string): string[] => flags.split(/\s+/).filter((w) => w !== '');
  const nodeArgs = words(values['node-args']);
  const baselineArgs = values['baseline-node-args'];
  if (values.baseline !== undefined)
    base = await startSigward(runDir, path.resolve(values.baseline), signed, probe, {
      name: `sigward ${path.basename(path.resolve(values.baseline))}${baselineArgs === undefined ? '' : ` ${baselineArgs}`}`,
      nodeArgs: baselineArgs === undefined ? nodeArgs : words(baselineArgs),
      leafMemo: values['leaf-memo'],
    });
  sw = await startSigward(
    runDir,
    values.sigward === undefined ? repoRoot : path.resolve(values.sigward),
    signed,
    probe,
    { nodeArgs, leafMemo: values['leaf-memo'] },
  );
  if (values['verify-alone'])
    verifier = await startVerifier({ registry: registry.host, ...image }, repoRoot, nodeArgs);
  const order: Participant[] = [
    ...(pc === undefined ? [] : [pc.webhook]),
    ...(verifier === undefined ? [] : [verifier]),
    ...(base === undefined ? [] : [base]),
    sw,
  ];
  for (const w of order) results.set(w.name, []);
  for (const w of order) if (warmupN > 0) await load(w, 1, ['pc/warm', ...warmupRepositories]);
  for (let round = 0; round < rounds; round++) {
    const turn = round % 2 === 0 ? order : [...order].reverse();
    for (const w of turn) {
      const r = await measure(w, round);
      results.get(w.name)!.push(r);
      process.stderr.write(`bench: round ${round + 1} ${w.name}: ${JSON.stringify(r)}\n`);
    }
  }
  failed = false;
} finally {
  await sw?.stop();
  await base?.stop();
  await verifier?.stop();
  await pc?.webhook.stop();
  await pc?.kube.stop();
  await registry.stop();
  if (failed || values['keep-logs'])
    process.stderr.write(`bench: logs kept in ${runDir.keepLogs('bench-policy-controller')}\n`);
  runDir.remove();
}

// --- the table -------------------------------------------------------------------------------------------
const cell = (xs: number[], digits: number, unit: string): string => {
  if (!xs.every(Number.isFinite)) return '–';
  const lo = Math.min(...xs).toFixed(digits);
  const hi = Math.max(...xs).toFixed(digits);
  return `${median(xs).toFixed(digits)} ${unit} (${lo}–${hi})`;
};
const names = [...results.keys()];
const column = (pick: (r: Round) => number) => names.map((n) => results.get(n)!.map(pick));
const rows: [string, (r: Round) => number, number, string][] = [
  ['cold (new image), 1 connection, p50', (r) => r.cold1.p50Ms, 1, 'ms'],
  ['cold, 1 connection, CPU per review', (r) => r.cold1.cpuMsPerReview, 1, 'ms'],
  ['cold, 1 connection, of which system (kernel)', (r) => r.cold1.sysMsPerReview, 1, 'ms'],
  ['cold, registry requests per review', (r) => r.cold1.registryPerReview, 1, ''],
  ['cold, apiserver ServiceAccount/Secret reads per review', (r) => r.cold1.apiserverReadsPerReview, 1, ''],
  ['cold, 16 connections, p50', (r) => r.cold16.p50Ms, 0, 'ms'],
  ['cold, 16 connections, throughput', (r) => r.cold16.rps, 0, 'req/s'],
  ['cold, 16 connections, CPU per review', (r) => r.cold16.cpuMsPerReview, 1, 'ms'],
  ['cold, 16 connections, of which system (kernel)', (r) => r.cold16.sysMsPerReview, 1, 'ms'],
  ['warm (same image), 1 connection, p50', (r) => r.warm1.p50Ms, 2, 'ms'],
  ['warm, 1 connection, CPU per review', (r) => r.warm1.cpuMsPerReview, 2, 'ms'],
  ['resident memory (VmRSS) after the round', (r) => r.rssMiB, 0, 'MiB'],
];
const lines = [
  `| case (median of ${rounds} alternated rounds, range) | ${names.join(' | ')} | ${names.at(-1)} ÷ ${names[0]} |`,
  `|---|${names.map(() => '---|').join('')}---|`,
  ...rows.map(([label, pick, digits, unit]) => {
    const xs = column(pick);
    const ratio = median(xs.at(-1)!) / median(xs[0]!);
    return `| ${label} | ${column(pick)
      .map((xs) => cell(xs, digits, unit))
      .join(' | ')} | ${Number.isFinite(ratio) ? ratio.toFixed(2) : '–'} |`;
  }),
];
process.stdout.write(
  `${lines.join('\n')}\n\nsignature: ${format === 'bundle' ? 'cosign v3 bundle (kubewarden-controller, public-good), fallback tag (docker-registry)' : 'legacy .sig, keyless + Rekor SET (containers/image fixture, public-good)'}; pod: ${values.pod}; unmeasured warm-up: ${warmupN} cold reviews each; reviews per round: cold 1+${coldN}, cold16 16+${cold16N}, warm 1+${warmN}; build/cache check of the peer ${buildSeconds} s\n\n${JSON.stringify(Object.fromEntries(results))}\n`,
);
