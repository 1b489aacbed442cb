// One measurement round of `npm run bench` for ONE source tree, in a fresh process (run.ts alternates
// rounds between trees: the branch and, with --baseline, another checkout such as main's). Everything
// under test is imported from that tree; the registries, fixtures and load client are shared.
// Prints one JSON object. Modes:
//   verify   cold verification of a new digest: verifyImage per case with a long-lived client (warm
//            connections, as the webhook has), p50 wall, median CPU and registry requests per image;
//            the cases in the order bench/run.ts's header lists, each with its registry alone (each
//            a leaf seen for the first time, but the last: the same certificate again);
//   webhook  warm /validate (cache hits) of the real `sigward webhook` process against a bare fastify
//            HTTPS server process answering the same review (bench/bare-server.ts), at 1, 16 and 64
//            keep-alive connections (load from another process, short runs alternated pair by pair),
//            CPU per request, server-side p50/p99 and event-loop lag measured inside each server
//            (bench/probe.ts); in-process CPU per review through the app (inject); cold reviews
//            (empty caches, a new policy generation per review) at 1 and 16 concurrent; event-loop lag;
//   memory   the tree's real `sigward webhook` process with the chart's NODE_OPTIONS, over HTTPS: RSS
//            (anonymous / mapped files) and heap at start, after N cold verifications, then with 100k
//            verdicts cached; time to listen, the webhook's CPU per cold verification and per fill review;
//   entries  heap bytes per cached verdict (an allow, a refusal) in a process holding only the Decider.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import https from 'node:https';
import { parseArgs } from 'node:util';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import diagnostics from 'node:diagnostics_channel';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import type fastifyOfTheBench from 'fastify';
import { Agent, request as undiciRequest } from 'undici';
import { parse as parseYaml } from 'yaml';
import { makeTestTls } from '../test/support/tls.ts';
import { fulcioRekor, kubewarden } from '../test/sigstore/discover-fixtures.ts';
import { timeOperations, traceCrypto } from './crypto-trace.ts';
import { median } from './stats.ts';
import { SETTLE_SECONDS } from './memory-settle.ts';
import { leafMemoOff, leafMemoOffFlag } from './leaf-memo-off.ts';

const { values } = parseArgs({
  options: {
    root: { type: 'string' },
    mode: { type: 'string' },
    docker: { type: 'string' },
    olareg: { type: 'string' },
    /** An olareg with its referrers API off: bundles found through the fallback tag, as on docker-registry. */
    'olareg-fallback': { type: 'string' },
    /** CNCF distribution v3 (`registry:3`): no referrers API, bundles through the fallback tag. */
    'distribution-v3': { type: 'string' },
    runs: { type: 'string', default: '40' },
    /** Unmeasured verifications of every verify case, all cases in turn, before any case is measured. */
    'verify-warm-up': { type: 'string', default: '300' },
    requests: { type: 'string', default: '3000' },
    /** Alternated bare/sigward pairs of warm runs per connection count. */
    'warm-pairs': { type: 'string', default: '5' },
    /** Requests (16 connections) each server answers, unmeasured, before the warm runs: JIT-compiled steady state. */
    'warm-up': { type: 'string', default: '20000' },
    verifications: { type: 'string', default: '10000' },
    'memory-repositories': { type: 'string', default: '100' },
    'memory-node-flags': { type: 'string', default: '' },
    /** The tree's `sigward` command the webhook and memory modes start: bin/sigward.js runs src/ by type
     *  stripping, dist/bin/sigward.js is the compiled build the image ships (run.ts --run-from). */
    entry: { type: 'string', default: 'bin/sigward.js' },
    /** Idle time before each memory reading (memory-settle.ts). */
    'settle-seconds': { type: 'string', default: String(SETTLE_SECONDS) },
  },
});
const root = resolve(values.root ?? '.');
const from = <T>(path: string): Promise<T> => import(join(root, path)) as Promise<T>;
const runs = Number(values.runs);
const here = fileURLToPath(new URL('.', import.meta.url));

const cpuMs = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;

interface Probed {
  readonly url: string;
  /** Sends 'reset' or 'report' to bench/probe.ts inside the server and resolves to its answer. */
  ask(message: 'reset' | 'report'): Promise<unknown>;
  stop(): Promise<void>;
}

/**
 * A server process with bench/probe.ts loaded (`node --import`), an IPC channel to it, stdout and stderr
 * drained; resolves once `urlOf` finds its URL in what it printed.
 */
async function startProbed(
  args: readonly string[],
  urlOf: (stdout: string, stderr: string) => string | undefined,
  env: NodeJS.ProcessEnv = {},
): Promise<Probed> {
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    KUBECONFIG: '/nonexistent',
    HOME: '/nonexistent',
    ...env,
  };
  delete childEnv['KUBERNETES_SERVICE_HOST'];
  const child = spawn(process.execPath, ['--import', pathToFileURL(join(here, 'probe.ts')).href, ...args], {
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let out = '';
  let err = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const check = (): void => {
      const found = urlOf(out, err);
      if (found !== undefined) resolve(found);
    };
    // Only the start is kept; later lines (one JSON log line per review) are read and dropped.
    child.stdout!.on('data', (c: Buffer) => {
      if (out.length < 1 << 16) out += c.toString();
      check();
    });
    child.stderr!.on('data', (c: Buffer) => {
      if (err.length < 1 << 16) err += c.toString();
      check();
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}:\n${out}\n${err}`)));
  });
  let answer: ((m: unknown) => void) | undefined;
  child.on('message', (m) => answer?.(m));
  return {
    url,
    ask: (message) =>
      new Promise((resolve) => {
        answer = resolve;
        child.send(message);
      }),
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/* eslint-disable @typescript-eslint/no-explicit-any -- modules of another checkout, typed by use */
async function verifyMode(): Promise<object> {
  const { RegistryClient } = await from<any>('src/oci/client.ts');
  const { verifyImage } = await from<any>('src/sigstore/verify-image.ts');
  const { prodRoot } = await from<any>('test/sigstore/ext.ts');
  const { identityCheck } = await from<any>('src/cli/identity-flags.ts');
  const { compileIdentity } = await from<any>('src/policy/identity.ts');
  const trust = prodRoot().material;
  const keyless = (subject: string, issuer: string) => ({
    kind: 'keyless',
    name: 'keyless',
    match: identityCheck(compileIdentity({ subject, issuer })),
  });
  const cases = [
    ...(values.olareg === undefined
      ? []
      : [
          {
            name: 'cosign v3 bundle, referrers API (olareg)',
            registry: values.olareg,
            repository: 'bench/bundle',
            digest: kubewarden.digest,
            authority: keyless(kubewarden.subject, kubewarden.issuer),
            referrers: 'referrers-api',
          },
        ]),
    ...(values['olareg-fallback'] === undefined
      ? []
      : [
          {
            name: 'cosign v3 bundle, fallback tag (olareg, API off)',
            registry: values['olareg-fallback'],
            repository: 'bench/bundle',
            digest: kubewarden.digest,
            authority: keyless(kubewarden.subject, kubewarden.issuer),
            referrers: 'fallback-tag',
          },
        ]),
    {
      name: 'cosign v3 bundle, fallback tag (docker-registry)',
      registry: values.docker!,
      repository: 'bench/bundle',
      digest: kubewarden.digest,
      authority: keyless(kubewarden.subject, kubewarden.issuer),
      referrers: 'fallback-tag',
    },
    {
      name: 'legacy .sig, keyless + Rekor SET (docker-registry)',
      registry: values.docker!,
      repository: 'bench/legacy',
      digest: fulcioRekor.digest,
      authority: keyless(fulcioRekor.subject, fulcioRekor.issuer),
    },
    ...(values.olareg === undefined
      ? []
      : [
          {
            name: 'legacy .sig, keyless + Rekor SET (olareg)',
            registry: values.olareg,
            repository: 'bench/legacy',
            digest: fulcioRekor.digest,
            authority: keyless(fulcioRekor.subject, fulcioRekor.issuer),
          },
        ]),
    ...(values['distribution-v3'] === undefined
      ? []
      : [
          {
            name: 'cosign v3 bundle, fallback tag (distribution v3)',
            registry: values['distribution-v3'],
            repository: 'bench/bundle',
            digest: kubewarden.digest,
            authority: keyless(kubewarden.subject, kubewarden.issuer),
            referrers: 'fallback-tag',
          },
          {
            name: 'legacy .sig, keyless + Rekor SET (distribution v3)',
            registry: values['distribution-v3'],
            repository: 'bench/legacy',
            digest: fulcioRekor.digest,
            authority: keyless(fulcioRekor.subject, fulcioRekor.issuer),
          },
        ]),
    // Another image signed by the same cosign invocation (one certificate): the same bundle again, no
    // verdict cache, its leaf remembered by the trust material (src/sigstore/leaf-memo.ts). Every other
    // case verifies its leaf as one seen for the first time.
    {
      name: `cosign v3 bundle, the same certificate again (${values.olareg === undefined ? 'docker-registry, fallback tag' : 'olareg, referrers API'})`,
      registry: values.olareg ?? values.docker!,
      repository: 'bench/bundle',
      digest: kubewarden.digest,
      authority: keyless(kubewarden.subject, kubewarden.issuer),
      referrers: values.olareg === undefined ? 'fallback-tag' : 'referrers-api',
      sameCertificate: true,
    },
  ];
  const runners = cases.map((c) => {
    const counted = { requests: 0 };
    const client = new RegistryClient({ onExchange: () => void counted.requests++ });
    const image = { repository: { registry: c.registry, repository: c.repository }, digest: c.digest };
    const once = async (): Promise<void> => {
      // A trust material object of its own per cold verification: the same root and CA objects (their
      // pairs checked once per root version, as in the webhook) but a leaf memo that has seen nothing
      // (bench/leaf-memo-off.ts says why); the same-certificate case keeps one, warm after the first.
      const verdict = await verifyImage({
        client,
        image,
        authorities: [c.authority],
        trust: c.sameCertificate === true ? trust : { ...trust },
      });
      if (verdict.status !== 'verified') throw new Error(`${c.name}: ${verdict.code} ${verdict.message}`);
      // The case measures the path it names (olareg with its API off must be read through the tag).
      if (c.referrers !== undefined && verdict.referrers !== c.referrers)
        throw new Error(`${c.name}: referrers found through ${verdict.referrers}, not ${c.referrers}`);
    };
    return { c, counted, client, once };
  });
  // A webhook verifies new digests for days: its cold path runs JIT-compiled. The first verifications
  // of a fresh process run in V8's lower tiers and pay the optimising compiler (process CPU counts its
  // threads): ~5 ms for the first 50 bundle images, ~2.5 ms after 500. Every case is warmed in turn
  // before any is measured, so no case pays the process's warm-up for the others (--verify-warm-up 3
  // measures mostly the warm-up, as the bench did before).
  for (let i = 0; i < Math.max(1, Number(values['verify-warm-up'])); i++)
    for (const { once } of runners) await once();
  const rows = [];
  const registryAlone = new Agent({ connections: 16 });
  for (const { c, counted, client, once } of runners) {
    // The requests of one verification, in the rounds they were made in: replayed by a plain client
    // (no parsing, no verification), interleaved with the verifications, that is the registry's share.
    const recorded = await recordRequests(once);
    counted.requests = 0;
    await once();
    if (counted.requests !== recorded.length)
      throw new Error(`${c.name}: ${recorded.length} requests recorded, ${counted.requests} counted`);
    // The node:crypto operations of one verification, each timed alone: the case's floor (crypto-trace.ts).
    const cryptoFloorMs =
      timeOperations(await traceCrypto(once), 100, 5).reduce((sum, op) => sum + op.us, 0) / 1000;
    const rounds = inRounds(recorded);
    const replay = (): Promise<void> => replayRounds(registryAlone, rounds);
    for (let i = 0; i < 20; i++) await replay();
    counted.requests = 0;
    const walls: number[] = [];
    const cpus: number[] = [];
    const mainCpus: number[] = [];
    const alone: number[] = [];
    const aloneCpus: number[] = [];
    const replayTimed = async (): Promise<void> => {
      const cpu = process.cpuUsage();
      alone.push(await timed(replay));
      aloneCpus.push(cpuMs(process.cpuUsage(cpu)));
    };
    for (let i = 0; i < runs; i++) {
      if (i % 2 === 1) await replayTimed();
      const cpu = process.cpuUsage();
      const mainCpu = process.threadCpuUsage();
      const t = performance.now();
      await once();
      walls.push(performance.now() - t);
      cpus.push(cpuMs(process.cpuUsage(cpu)));
      mainCpus.push(cpuMs(process.threadCpuUsage(mainCpu)));
      if (i % 2 === 0) await replayTimed();
    }
    rows.push({
      name: c.name,
      wallMs: median(walls),
      cpuMs: median(cpus),
      // The process's CPU counts every thread (V8's compiler and collector, libuv's pool); the main
      // thread's is what limits one webhook process's throughput.
      mainThreadCpuMs: median(mainCpus),
      requests: counted.requests / runs,
      rounds: rounds.length,
      registryAloneMs: median(alone),
      registryAloneCpuMs: median(aloneCpus),
      cryptoFloorMs,
    });
    await client.close();
  }
  await registryAlone.close();
  return { verify: rows };
}

async function timed(run: () => Promise<void>): Promise<number> {
  const t = performance.now();
  await run();
  return performance.now() - t;
}

/** One registry request as undici saw it: what was asked, when it was sent, when its body was in. */
interface RecordedRequest {
  readonly origin: string;
  readonly method: string;
  readonly path: string;
  readonly headers: readonly string[];
  readonly start: number;
  end: number;
}

/** The registry requests `run` makes (undici's diagnostics channels), in the order they were made. */
async function recordRequests(run: () => Promise<void>): Promise<RecordedRequest[]> {
  const open = new Map<object, RecordedRequest>();
  const done: RecordedRequest[] = [];
  const onCreate = (message: unknown): void => {
    const { request } = message as {
      request: { origin: string; method: string; path: string; headers: unknown };
    };
    const headers = Array.isArray(request.headers) ? (request.headers as string[]) : [];
    open.set(request, {
      origin: String(request.origin),
      method: request.method,
      path: request.path,
      headers,
      start: performance.now(),
      end: Number.NaN,
    });
  };
  const onEnd = (message: unknown): void => {
    const { request } = message as { request: object };
    const recorded = open.get(request);
    if (recorded === undefined) return;
    recorded.end = performance.now();
    open.delete(request);
    done.push(recorded);
  };
  diagnostics.subscribe('undici:request:create', onCreate);
  diagnostics.subscribe('undici:request:trailers', onEnd);
  diagnostics.subscribe('undici:request:error', onEnd);
  try {
    await run();
  } finally {
    diagnostics.unsubscribe('undici:request:create', onCreate);
    diagnostics.unsubscribe('undici:request:trailers', onEnd);
    diagnostics.unsubscribe('undici:request:error', onEnd);
  }
  if (open.size > 0) throw new Error(`${open.size} registry request(s) never completed`);
  return done.sort((a, b) => a.start - b.start);
}

/** Requests grouped in rounds: a request waits for those that ended before it started, so it comes after. */
function inRounds(requests: readonly RecordedRequest[]): RecordedRequest[][] {
  const round = new Map<RecordedRequest, number>();
  for (const r of requests) {
    let after = 0;
    for (const q of requests) if (q !== r && q.end <= r.start) after = Math.max(after, round.get(q) ?? 0);
    round.set(r, after + 1);
  }
  const rounds: RecordedRequest[][] = [];
  for (const r of requests) (rounds[round.get(r)! - 1] ??= []).push(r);
  return rounds;
}

async function replayRounds(agent: Agent, rounds: readonly RecordedRequest[][]): Promise<void> {
  for (const round of rounds)
    await Promise.all(
      round.map(async (r) => {
        const response = await undiciRequest(new URL(r.path, r.origin), {
          dispatcher: agent,
          method: r.method as 'GET' | 'HEAD',
          headers: r.headers as string[],
        });
        await response.body.arrayBuffer();
      }),
    );
}

/** The policy (per generation) and Pod review every warm/memory mode judges: the signed kubewarden image. */
function signedImageCase(harness: any, host: string) {
  const policy = (generation: number) =>
    harness.clusterPolicy(
      'kubewarden',
      ['127.0.0.1:*/signed/**'],
      [harness.kubewardenAuthority()],
      {},
      generation,
    );
  const review = harness.podReview([`${host}/signed/kubewarden@${kubewarden.digest}`]);
  return { policy, review };
}

async function webhookMode(): Promise<object> {
  // Every cold review verifies the same signature: its leaf as one seen for the first time.
  await leafMemoOff(root);
  const harness = await from<any>('test/engine/harness.ts');
  const { createLogger } = await from<any>('src/telemetry/logger.ts');
  const host = values.docker!;
  const { policy, review } = signedImageCase(harness, host);
  const dir = mkdtempSync(join(tmpdir(), 'sigward-bench-'));
  const tls = makeTestTls(dir);
  const bodyFile = join(dir, 'review.json');
  writeFileSync(bodyFile, JSON.stringify(review));
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, tls.caPem);
  const lag = monitorEventLoopDelay({ resolution: 5 });

  // Cold: every review misses (a new policy generation each time), sequential then 16 at once.
  const e = harness.engineUnderTest([policy(1)], { deadlineMs: 60_000 });
  let generation = 1;
  const coldReview = async (): Promise<number> => {
    e.setPolicies([policy(++generation)]);
    const t = performance.now();
    const r = await e.review(review);
    if (!harness.responseOf(r).allowed) throw new Error(JSON.stringify(harness.responseOf(r)));
    return performance.now() - t;
  };
  // Warmed as the verify rows are (--verify-warm-up): a webhook's cold path runs JIT-compiled.
  const coldWarmUp = Math.max(3, Number(values['verify-warm-up']));
  for (let i = 0; i < coldWarmUp; i++) await coldReview();
  const cold1: number[] = [];
  let cpu = process.cpuUsage();
  const mainCpu = process.threadCpuUsage();
  for (let i = 0; i < runs; i++) cold1.push(await coldReview());
  const cold1Cpu = cpuMs(process.cpuUsage(cpu)) / runs;
  const cold1MainCpu = cpuMs(process.threadCpuUsage(mainCpu)) / runs;
  const cold16: number[] = [];
  const total16 = runs * 8;
  let next = 0;
  cpu = process.cpuUsage();
  lag.reset();
  lag.enable();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next++ < total16) cold16.push(await coldReview());
    }),
  );
  const cold16Seconds = (performance.now() - started) / 1000;
  lag.disable();
  const cold16Lag = lag.percentile(99) / 1e6;
  const cold16Cpu = cpuMs(process.cpuUsage(cpu)) / total16;
  // Cold means cold: every review above fetched from the registry and verified (no generation reused
  // a fetch or a verification); only the image's parse and policy match (decide.ts) are per image text.
  const { counterValue } = await from<any>('src/telemetry/metrics.ts');
  const reviews = coldWarmUp + runs + total16;
  const registryRequestsPerReview = (await counterValue(e.metrics.registryRequests)) / reviews;
  const verificationsPerReview = (await e.verifications()) / reviews;
  if (registryRequestsPerReview < 1 || verificationsPerReview < 1)
    throw new Error(
      `cold reviews reused work: ${registryRequestsPerReview} registry requests, ${verificationsPerReview} verifications per review`,
    );
  await e.close();

  // In-process CPU per cached review through the app (fastify's inject: no sockets or TLS), sigward's
  // app against a bare fastify app answering the canned reply, alternated: steady under machine load.
  const w = harness.engineUnderTest([policy(1)], { deadlineMs: 60_000 });
  await w.review(review);
  const quiet = new Writable({ write: (_c, _e, done) => done() });
  const canned = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid: review.request.uid, allowed: true, auditAnnotations: { decision: 'allow' } },
  });
  const { buildApp } = await from<any>('src/server/app.ts');
  const app = buildApp({
    // What the webhook passes (cli/webhook.ts): the answer at once when cached; older trees: a promise.
    handleReview: w.engine.handleNow ?? w.engine.handle,
    readiness: () => ({ ready: true, reasons: [] }),
    metrics: w.metrics,
    logger: createLogger({ destination: quiet }),
  });
  // The measured tree's own fastify: with the bench's copy, a tree measured from the bench's own
  // checkout shared one fastify between both apps (warm code, shared shapes) and a baseline with its
  // own node_modules did not, which biased this row by up to 40 µs against the bench's tree.
  const fastify = createRequire(join(root, 'package.json'))('fastify') as typeof fastifyOfTheBench;
  const bareApp = fastify();
  bareApp.post('/validate', async (_req, reply) =>
    reply.header('content-type', 'application/json').send(canned),
  );
  await Promise.all([app.ready(), bareApp.ready()]);
  const bodyText = JSON.stringify(review);
  const injectCpuUs = async (target: any): Promise<number> => {
    const n = 3000;
    const cpu = process.cpuUsage();
    for (let i = 0; i < n; i++) {
      const res = await target.inject({
        method: 'POST',
        url: '/validate',
        payload: bodyText,
        headers: { 'content-type': 'application/json' },
      });
      if (res.statusCode !== 200) throw new Error(`inject: ${res.statusCode} ${res.body}`);
    }
    return (cpuMs(process.cpuUsage(cpu)) * 1000) / n;
  };
  await injectCpuUs(app);
  await injectCpuUs(bareApp);
  const injectSigward: number[] = [];
  const injectBare: number[] = [];
  for (let i = 0; i < 5; i++) {
    injectSigward.push(await injectCpuUs(app));
    injectBare.push(await injectCpuUs(bareApp));
  }
  await app.close();
  await bareApp.close();
  await w.close();
  const inject = { sigwardUs: median(injectSigward), bareUs: median(injectBare) };

  // Warm over HTTPS: the real `sigward webhook` of the tree under test (policies from a directory, the
  // public-good root from a file, the bench's key pair; its JSON log lines go to a pipe this process
  // drains, as a container runtime reads them) against bench/bare-server.ts, each its own process with
  // bench/probe.ts inside, measured from there (CPU, server-side times, event-loop lag).
  const policies = join(dir, 'policies');
  mkdirSync(policies);
  writeFileSync(join(policies, 'kubewarden.yaml'), JSON.stringify(policy(1)));
  const { PROD_ROOT_PATH } = await from<any>('test/sigstore/ext.ts');
  const sigwardServer = await startProbed(
    [
      join(root, values.entry!),
      'webhook',
      '--listen=127.0.0.1:0',
      `--policies=${policies}`,
      `--trusted-root=${PROD_ROOT_PATH}`,
      `--tls-cert=${tls.certFile}`,
      `--tls-key=${tls.keyFile}`,
    ],
    (_out, err) => /listening on (https:\/\/127\.0\.0\.1:\d+)/.exec(err)?.[1],
  );
  const bareServer = await startProbed(
    [join(here, 'bare-server.ts'), tls.certFile, tls.keyFile],
    (out) => /"url":"([^"]+)"/.exec(out)?.[1],
    // The baseline runs as it is whatever NODE_OPTIONS the server under test was given.
    { NODE_OPTIONS: '' },
  );
  const warmRequests = Number(values.requests);
  const pairs = Number(values['warm-pairs']);
  const load = async (
    server: Probed,
    connections: number,
    requests = warmRequests,
  ): Promise<{
    rps: number;
    p50: number;
    p99: number;
    serverCpuUs: number;
    serverP50: number;
    serverP99: number;
    writtenP50: number;
    writtenP99: number;
    writtenAtFinish: number;
    lagP99: number;
    gcUs: number;
  }> => {
    // The window opens once the client's connections are warm (TLS handshakes and first requests
    // done): at 64 connections those handshakes otherwise fell in the window's busiest turns.
    const client = spawn(
      process.execPath,
      [
        join(here, 'load.ts'),
        `${server.url}/validate`,
        bodyFile,
        caFile,
        String(connections),
        String(requests),
        '--wait',
      ],
      // The load client runs as it is whatever NODE_OPTIONS the server under test was given.
      { env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['pipe', 'pipe', 'inherit'] },
    );
    let stdout = '';
    let opened = false;
    // 'close': the exit code once stdout is read to its end.
    const exited = new Promise<number | null>((resolve) => client.once('close', resolve));
    client.stdout.setEncoding('utf8');
    client.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      if (!opened && stdout.startsWith('warm\n')) {
        opened = true;
        void server.ask('reset').then(() => client.stdin.end('go\n'));
      }
    });
    const code = await exited;
    if (code !== 0 || !opened) throw new Error(`load client exited ${code}: ${stdout}`);
    const report = (await server.ask('report')) as {
      cpuUs: number;
      requests: number;
      p50: number;
      p99: number;
      writtenP50: number;
      writtenP99: number;
      writtenAtFinish: number;
      lagP99: number;
      gcMs: number;
    };
    const result = JSON.parse(stdout.slice('warm\n'.length)) as { rps: number; p50: number; p99: number };
    return {
      rps: result.rps,
      p50: result.p50,
      p99: result.p99,
      serverCpuUs: report.cpuUs / report.requests,
      serverP50: report.p50,
      serverP99: report.p99,
      writtenP50: report.writtenP50,
      writtenP99: report.writtenP99,
      // Of the window's responses, the share not all handed to the kernel at end() (counted at 'finish').
      writtenAtFinish: report.writtenAtFinish / report.requests,
      lagP99: report.lagP99,
      gcUs: (report.gcMs * 1000) / report.requests,
    };
  };
  const warm = [];
  try {
    // A webhook answers for days: measure both servers once the JIT has compiled their request paths
    // (sigward's has far more code to warm than the bare server's; short runs from a fresh process
    // measured mostly that, e.g. CPU per request 187 → 151 → 132 µs over three runs of 10k at 1 connection).
    const warmUp = Number(values['warm-up']);
    if (warmUp > 0) for (const server of [bareServer, sigwardServer]) await load(server, 16, warmUp);
    for (const connections of [1, 16, 64]) {
      // Short runs alternated pair by pair (bare first, then sigward first), medians of the pairs: a
      // burst of load from the machine's other work lands on both alike.
      const runs: { bare: Awaited<ReturnType<typeof load>>; sigward: Awaited<ReturnType<typeof load>> }[] =
        [];
      for (let i = 0; i < pairs; i++) {
        if (i % 2 === 0) {
          const bare = await load(bareServer, connections);
          runs.push({ bare, sigward: await load(sigwardServer, connections) });
        } else {
          const sigward = await load(sigwardServer, connections);
          runs.push({ bare: await load(bareServer, connections), sigward });
        }
      }
      const of = (side: 'bare' | 'sigward') => {
        const pick = (k: keyof Awaited<ReturnType<typeof load>>): number =>
          median(runs.map((r) => r[side][k]));
        return {
          rps: pick('rps'),
          p50: pick('p50'),
          p99: pick('p99'),
          serverCpuUs: pick('serverCpuUs'),
          serverP50: pick('serverP50'),
          serverP99: pick('serverP99'),
          writtenP50: pick('writtenP50'),
          writtenP99: pick('writtenP99'),
          writtenAtFinish: pick('writtenAtFinish'),
          lagP99: pick('lagP99'),
          gcUs: pick('gcUs'),
        };
      };
      const sigward = of('sigward');
      warm.push({
        connections,
        bare: of('bare'),
        sigward,
        ratio: median(runs.map((r) => r.sigward.rps / r.bare.rps)),
        cpuRatio: median(runs.map((r) => r.bare.serverCpuUs / r.sigward.serverCpuUs)),
        serverP50: sigward.serverP50,
        serverP99: sigward.serverP99,
        lagP99: sigward.lagP99,
      });
    }
  } finally {
    await Promise.all([sigwardServer.stop(), bareServer.stop()]);
  }
  return {
    cold: {
      p50Ms: median(cold1),
      cpuMsPerReview: cold1Cpu,
      mainThreadCpuMsPerReview: cold1MainCpu,
      concurrent16: {
        rps: total16 / cold16Seconds,
        p50Ms: median(cold16),
        cpuMsPerReview: cold16Cpu,
        lagP99: cold16Lag,
      },
      registryRequestsPerReview,
      verificationsPerReview,
    },
    warm,
    inject,
  };
}

/**
 * Resident memory of a process as the kernel counts it (VmRSS, anonymous, mapped files), in MiB, and
 * its peak so far (VmHWM: what a container's memory limit has to allow, bursts included).
 */
function rssOf(pid: number | 'self'): { rssMiB: number; anonMiB: number; fileMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return {
    rssMiB: kib('VmRSS') / 1024,
    anonMiB: kib('RssAnon') / 1024,
    fileMiB: kib('RssFile') / 1024,
    peakMiB: kib('VmHWM') / 1024,
  };
}

/** CPU a process has used (user + system, /proc/PID/stat, in clock ticks of 10 ms), in ms. */
function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // After the command name: state is field 3, utime and stime fields 14 and 15 (proc(5)).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * Where anonymous memory sits (/proc/PID/smaps), in MiB resident: the main malloc arena ([heap]), glibc's
 * per-thread malloc arenas (libuv's pool, V8's compiler and GC threads: each a 64 MiB-aligned reservation,
 * a read-write part followed by its inaccessible rest, 64 MiB together), and the rest (V8's heap pages,
 * large malloc blocks mapped on their own).
 */
function anonymousParts(pid: number): { brkHeapMiB: number; threadArenasMiB: number; otherMiB: number } {
  const MiB64 = 64 * 1024 * 1024;
  const maps: { start: number; end: number; perms: string; name: string; anonKiB: number }[] = [];
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (head !== null) {
      const anonymous = head[4] === '0';
      maps.push({
        start: parseInt(head[1]!, 16),
        end: parseInt(head[2]!, 16),
        perms: head[3]!,
        name: anonymous ? head[5]! : 'file',
        anonKiB: 0,
      });
      continue;
    }
    const rss = /^Anonymous:\s+(\d+) kB/.exec(line);
    if (rss !== null && maps.length > 0) maps.at(-1)!.anonKiB += Number(rss[1]);
  }
  const parts = { brkHeapMiB: 0, threadArenasMiB: 0, otherMiB: 0 };
  maps.forEach((m, i) => {
    const next = maps[i + 1];
    const threadArena =
      m.name === '' &&
      m.start % MiB64 === 0 &&
      next !== undefined &&
      next.name === '' &&
      next.perms.startsWith('---') &&
      next.start === m.end &&
      next.end - m.start === MiB64;
    if (m.name === '[heap]') parts.brkHeapMiB += m.anonKiB / 1024;
    else if (threadArena) parts.threadArenasMiB += m.anonKiB / 1024;
    else if (m.name === '') parts.otherMiB += m.anonKiB / 1024;
  });
  return parts;
}

/** The chart's default NODE_OPTIONS (`nodeOptions` in the tree's charts/sigward/values.yaml). */
function chartNodeOptions(): string {
  const text = readFileSync(join(root, 'charts/sigward/values.yaml'), 'utf8');
  const m = /^nodeOptions:\s*(.*)$/m.exec(text);
  if (m === null) return '';
  const raw = m[1]!.replace(/\s+#.*$/, '').trim();
  return raw.startsWith("'") || raw.startsWith('"') ? raw.slice(1, -1) : raw;
}

/** The chart's glibc malloc settings (`mallocEnv` in the tree's values.yaml; none in older trees). */
function chartMallocEnv(): Record<string, string> {
  const values = parseYaml(readFileSync(join(root, 'charts/sigward/values.yaml'), 'utf8')) as {
    mallocEnv?: Record<string, unknown>;
  };
  return Object.fromEntries(Object.entries(values.mallocEnv ?? {}).map(([k, v]) => [k, String(v)]));
}

/**
 * The tree's real `sigward webhook` process, as the chart runs it (NODE_OPTIONS and mallocEnv from the chart's values,
 * policies from a directory it re-reads, the public-good trusted root from a file), driven over HTTPS
 * keep-alive. Only the log lines the bench waits for are kept (a webhook logs one line per review).
 */
async function startWebhookProcess(policyDir: string, nodeOptions: string, nodeArgs: readonly string[]) {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_OPTIONS: nodeOptions,
    ...chartMallocEnv(),
    KUBECONFIG: '/nonexistent',
    HOME: '/nonexistent',
  };
  delete env['KUBERNETES_SERVICE_HOST'];
  const { PROD_ROOT_PATH } = await import('../test/sigstore/ext.ts');
  const spawned = performance.now();
  const child = spawn(
    process.execPath,
    [
      ...nodeArgs,
      join(root, values.entry!),
      'webhook',
      '--listen=127.0.0.1:0',
      `--policies=${policyDir}`,
      `--trusted-root=${PROD_ROOT_PATH}`,
      `--verdict-cache-entries=${MEMORY_ENTRIES}`,
      ...leafMemoOffFlag(root),
      // Refusals fill the cache below; they must stay for the whole run (the default is 60 s).
      '--refused-ttl-seconds=3600',
      '--timeout-seconds=30',
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  let partial = '';
  // BENCH_WEBHOOK_OUTPUT=FILE: everything the webhook writes (log lines, --trace-gc output) kept in FILE.
  const output = process.env['BENCH_WEBHOOK_OUTPUT'];
  if (output !== undefined) {
    const file = createWriteStream(output);
    child.stdout.on('data', (c: Buffer | string) => file.write(c));
    child.stderr.on('data', (c: Buffer | string) => file.write(c));
    child.once('exit', () => file.end());
  }
  const generations: string[] = [];
  const waiters = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines)
      if (line.includes('"policy snapshot updated"')) {
        generations.push(String((JSON.parse(line) as { generation: unknown }).generation));
        for (const w of waiters) w();
      }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      err += c;
      const m = /listening on (https:\/\/127\.0\.0\.1:\d+)[\s\S]*-----END CERTIFICATE-----\n/.exec(err);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`sigward webhook exited ${code}: ${err}`)));
  });
  const startMs = performance.now() - spawned;
  const ca = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/.exec(err)![0];
  const agent = new https.Agent({ keepAlive: true, maxSockets: 16, ca });
  const request = (method: 'GET' | 'POST', path: string, body?: string) =>
    new Promise<string>((resolve, reject) => {
      const req = https.request(
        `${url}${path}`,
        { method, agent, headers: body === undefined ? {} : { 'content-type': 'application/json' } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            res.statusCode === 200
              ? resolve(Buffer.concat(chunks).toString())
              : reject(new Error(`${path}: ${res.statusCode} ${Buffer.concat(chunks).toString()}`)),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const metric = async (name: string, labels = ''): Promise<number> => {
    const text = await request('GET', '/metrics');
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`${name}${labels} `) || l.startsWith(`${name}${labels}{`));
    return Number(line?.split(' ').pop() ?? NaN);
  };
  return {
    pid: child.pid!,
    /** From spawn to the `listening` line (the self-signed certificate made, policies and root read). */
    startMs,
    /** Resolves once the webhook has logged a snapshot after `seen` earlier ones (no polling). */
    snapshotAfter: (seen: number) =>
      new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (generations.length <= seen) return;
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        void exited.then(() => waiters.delete(check) && reject(new Error(`webhook exited: ${err}`)));
        check();
      }),
    snapshots: () => generations.length,
    review: async (body: object): Promise<{ allowed: boolean; message?: string }> =>
      (
        JSON.parse(await request('POST', '/validate', JSON.stringify(body))) as {
          response: { allowed: boolean; status?: { message?: string } };
        }
      ).response,
    metric,
    heap: async () => ({
      usedMiB: (await metric('nodejs_heap_size_used_bytes')) / 2 ** 20,
      committedMiB: (await metric('nodejs_heap_size_total_bytes')) / 2 ** 20,
      externalMiB: (await metric('nodejs_external_memory_bytes')) / 2 ** 20,
    }),
    stop: async () => {
      agent.destroy();
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Most verdicts the memory run's webhook keeps (its --verdict-cache-entries), filled to the brim. */
const MEMORY_ENTRIES = 100_000;
/** Policies in the memory run: each review of one image is that many cold verifications. */
const MEMORY_POLICIES = 10;

/**
 * The RSS of a real `sigward webhook` (memoryMode's startWebhookProcess) after N cold verifications of
 * the real cosign v3 bundle (fallback tag), then with its verdict cache filled to 100k entries:
 *  - cold: MEMORY_POLICIES policies match bench/mem-0…R-1 (run.ts pushes the bundle into each); every
 *    generation of the policy files (rewritten, re-read by the webhook) reviews each repository once,
 *    so a review is MEMORY_POLICIES verifications and nothing is reused across generations; state kept
 *    per snapshot, per repository or per verification shows as growth from one generation to the next;
 *  - fill: Pods of 10 containers naming digests no one signed in those repositories (each container a
 *    definite refusal per policy, cached for --refused-ttl-seconds) up to 100k verdicts.
 * No forced collection (the process runs as deployed): each figure is read after the webhook sat idle
 * past the quiet its idle collection waits for (SETTLE_SECONDS), as a Pod between rollouts.
 */
async function memoryMode(): Promise<object> {
  const host = values.docker!;
  const repositories = Number(values['memory-repositories']);
  const n = Number(values.verifications);
  const perGeneration = repositories * MEMORY_POLICIES;
  const generations = Math.max(1, Math.round(n / perGeneration));
  const dir = mkdtempSync(join(tmpdir(), 'sigward-bench-memory-'));
  const policyFile = join(dir, 'policies.yaml');
  const writePolicies = (generation: number): void =>
    writeFileSync(
      policyFile,
      Array.from(
        { length: MEMORY_POLICIES },
        (_, p) => `apiVersion: policy.sigward.dev/v1alpha1
kind: ClusterImagePolicy
metadata: {name: bench-${p}, generation: ${generation}}
spec:
  images: ['127.0.0.1:*/bench/mem-*']
  authorities:
    - name: release-workflow
      keyless:
        identities: [{issuer: ${JSON.stringify(kubewarden.issuer)}, subject: ${JSON.stringify(kubewarden.subject)}}]
`,
      ).join('---\n'),
    );
  writePolicies(1);
  const idle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const nodeOptions = chartNodeOptions();
  // BENCH_HEAP_SNAPSHOTS=DIR: heap snapshots of the webhook (SIGUSR2) at start, after the cold
  // verifications and with the cache full, written into DIR, to compare what is kept.
  const snapshots = process.env['BENCH_HEAP_SNAPSHOTS'];
  // --memory-node-flags: more options on node's command line after the chart's NODE_OPTIONS
  // (experiments, also V8 flags NODE_OPTIONS refuses, such as --optimize-for-size).
  const nodeArgs = (values['memory-node-flags'] ?? '').split(/\s+/).filter(Boolean);
  const options = [
    nodeOptions,
    snapshots === undefined ? '' : `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${snapshots}`,
  ];
  const webhook = await startWebhookProcess(dir, options.filter(Boolean).join(' '), nodeArgs);
  const heapSnapshot = async (): Promise<void> => {
    if (snapshots === undefined) return;
    const before = readdirSync(snapshots).length;
    process.kill(webhook.pid, 'SIGUSR2');
    while (readdirSync(snapshots).length === before) await idle(500);
    await idle(5000);
  };
  const { podReview: pod } = await from<any>('test/engine/harness.ts');
  const drive = async (count: number, body: (i: number) => object, expectAllowed: boolean): Promise<void> => {
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let i = next++; i < count; i = next++) {
          const response = await webhook.review(body(i));
          if (response.allowed !== expectAllowed) throw new Error(`review ${i}: ${JSON.stringify(response)}`);
        }
      }),
    );
  };
  // BENCH_SMAPS=DIR: the webhook's /proc/PID/smaps at each reading, copied into DIR (where RSS sits).
  const smapsDir = process.env['BENCH_SMAPS'];
  let readings = 0;
  const settled = async () => {
    await idle(Number(values['settle-seconds']) * 1000);
    if (smapsDir !== undefined)
      writeFileSync(join(smapsDir, `smaps-${readings++}`), readFileSync(`/proc/${webhook.pid}/smaps`));
    return { ...rssOf(webhook.pid), anonymous: anonymousParts(webhook.pid), heap: await webhook.heap() };
  };
  try {
    const start = await settled();
    await heapSnapshot();
    const perGenerationRss: number[] = [];
    const started = performance.now();
    const cpuBefore = processCpuMs(webhook.pid);
    for (let g = 1; g <= generations; g++) {
      if (g > 1) {
        const seen = webhook.snapshots();
        writePolicies(g);
        await webhook.snapshotAfter(seen);
      }
      await drive(repositories, (r) => pod([`${host}/bench/mem-${r}@${kubewarden.digest}`]), true);
      perGenerationRss.push(rssOf(webhook.pid).rssMiB);
    }
    const seconds = (performance.now() - started) / 1000;
    const coldCpuMs = processCpuMs(webhook.pid) - cpuBefore;
    const verifications = await webhook.metric(
      'sigward_cache_requests_total',
      '{cache="verdict",result="miss"}',
    );
    const afterCold = await settled();
    await heapSnapshot();

    // Fill: refusals (no signature for these digests) up to MEMORY_ENTRIES verdicts.
    const containers = 10;
    const fillReviews = Math.ceil(
      (MEMORY_ENTRIES - generations * perGeneration) / (containers * MEMORY_POLICIES),
    );
    const digestOf = (k: number) => `sha256:${createHash('sha256').update(`bench ${k}`).digest('hex')}`;
    // Review i: a Pod of `containers` unsigned digests, each its own verdict.
    const fillPod = (i: number) =>
      pod(
        Array.from(
          { length: containers },
          (_, c) =>
            `${host}/bench/mem-${(i * containers + c) % repositories}@${digestOf(i * containers + c)}`,
        ),
      );
    const fillStarted = performance.now();
    const fillCpuBefore = processCpuMs(webhook.pid);
    await drive(fillReviews, fillPod, false);
    const fillSeconds = (performance.now() - fillStarted) / 1000;
    const fillCpuMs = processCpuMs(webhook.pid) - fillCpuBefore;
    const misses = await webhook.metric('sigward_cache_requests_total', '{cache="verdict",result="miss"}');
    const full = await settled();
    await heapSnapshot();
    // Still cached: the last generation's allows (the oldest verdicts still reachable) and the first
    // refusals are answered without one more verification.
    await drive(repositories, (r) => pod([`${host}/bench/mem-${r}@${kubewarden.digest}`]), true);
    await drive(10, fillPod, false);
    const missesAfter = await webhook.metric(
      'sigward_cache_requests_total',
      '{cache="verdict",result="miss"}',
    );
    if (missesAfter !== misses)
      throw new Error(
        `the verdict cache did not hold ${MEMORY_ENTRIES} entries (${missesAfter - misses} re-verified)`,
      );
    return {
      memory: {
        nodeOptions,
        mallocEnv: chartMallocEnv(),
        nodeArgs: nodeArgs.join(' '),
        entry: values.entry,
        startMs: webhook.startMs,
        coldVerifications: verifications,
        generations,
        coldPerSecond: verifications / seconds,
        // The whole process's CPU over the burst (TLS, log lines, GC included) per verification.
        coldCpuMsPerVerification: coldCpuMs / verifications,
        fillCpuMsPerReview: fillCpuMs / fillReviews,
        verdicts: misses,
        fillPerSecond: (misses - verifications) / fillSeconds,
        start,
        afterCold,
        full,
        rssPerGenerationMiB: perGenerationRss,
      },
    };
  } finally {
    await webhook.stop();
  }
}

/**
 * What one cached verdict costs, in a process holding only the tree's Decider (--expose-gc): the heap
 * and ArrayBuffers before and after deciding `entries` digests whose verifier answers at once with a copy of a real
 * verdict (an allow of the cosign v3 bundle) or a refusal, divided by the entries.
 */
async function entriesMode(): Promise<object> {
  const host = values.docker!;
  const entries = MEMORY_ENTRIES;
  const { Decider } = await from<any>('src/engine/decide.ts');
  const { buildSnapshot } = await from<any>('src/kube/snapshot.ts');
  const { prodRoot } = await from<any>('test/sigstore/ext.ts');
  const harness = await from<any>('test/engine/harness.ts');
  const { policy } = signedImageCase(harness, host);
  const e = harness.engineUnderTest([policy(1)], { deadlineMs: 60_000 });
  const real = await e.registry.verify({
    image: { repository: { registry: host, repository: 'signed/kubewarden' }, digest: kubewarden.digest },
    authorities: [{ kind: 'keyless', name: 'release-workflow', match: () => ({ matched: true }) }],
    trust: prodRoot(),
    multiArch: { mode: 'digest' },
    keychain: { credentialsFor: () => [] },
    signal: AbortSignal.timeout(10_000),
  });
  await e.close();
  if (real.status !== 'verified') throw new Error(`${real.code}: ${real.message}`);
  // What verifyImage answers for a digest nobody signed (its message names the repository).
  const refusal = (repository: string, digest: string) => ({
    image: `${repository}@${digest}`,
    digest,
    status: 'unsigned',
    code: 'NO_SIGNATURES',
    message: `no signatures found (looked in the referrers fallback tag (the registry has no referrers API) and the legacy .sig tag, in ${repository})`,
    signatures: [],
    referrers: 'fallback-tag',
    truncated: false,
  });
  const CAP_MS = 500;
  // With V8's bytecode flushing on, the bytecode of functions unused for 6 full collections goes, and
  // ~4-5 MiB of old, large-object and trusted space with it once the Decider phases' code aged: in some
  // runs inside the cache's window, which then read 1-3 bytes per entry instead of 57 (docs/performance.md).
  if (!process.execArgv.includes('--no-flush-bytecode') || globalThis.gc === undefined)
    throw new Error('the entries mode runs with node --expose-gc --no-flush-bytecode');
  const collect = async (): Promise<number> => {
    for (let i = 0; i < 3; i++) {
      globalThis.gc?.();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // The heap and the ArrayBuffers outside it (a cache may keep its entries in typed arrays).
    const { heapUsed, arrayBuffers } = process.memoryUsage();
    return heapUsed + arrayBuffers;
  };
  const perEntry = async (kind: 'allow' | 'refusal'): Promise<number> => {
    const decider = new Decider(
      {
        resolver: { resolveDigest: () => Promise.reject(new Error('not used')) },
        verifier: {
          verify: async (request: any) =>
            kind === 'allow'
              ? structuredClone(real)
              : refusal(
                  `${request.image.repository.registry}/${request.image.repository.repository}`,
                  request.image.digest,
                ),
        },
        trustRoots: { trustRoot: (name: string) => (name === 'public-good' ? prodRoot() : undefined) },
      },
      {
        deadlineMs: 60_000,
        // Each verification's cap is a timer, cleared when it ends (src/deadline.ts); short here and
        // waited out below all the same, so that a tree whose caps outlive their work (older trees:
        // AbortSignal.timeout) is measured for what its cache keeps, not for 100k pending timers.
        verificationCapMs: CAP_MS,
        evaluation: { unmatched: 'deny', errors: 'deny' },
        cache: { maxVerdicts: entries, negativeTtlMs: 3_600_000 },
      },
    );
    const snapshot = buildSnapshot([policy(1)]);
    const site = (i: number) => ({
      field: 'spec.containers[0].image',
      image: `${host}/signed/kubewarden@sha256:${i.toString(16).padStart(64, '0')}`,
    });
    await decider.decide([site(0)], { namespace: 'apps' }, snapshot); // code paths warmed, lazy state made
    const before = await collect();
    for (let i = 1; i <= entries; i += 100)
      await decider.decide(
        Array.from({ length: 100 }, (_, k) => site(i + k)),
        { namespace: 'apps' },
        snapshot,
      );
    await new Promise((resolve) => setTimeout(resolve, 2 * CAP_MS));
    const after = await collect();
    const [again] = await decider.decide([site(1)], { namespace: 'apps' }, snapshot);
    if (again.outcome !== (kind === 'allow' ? 'allow' : 'deny')) throw new Error(JSON.stringify(again));
    return (after - before) / entries;
  };
  // The verdict cache alone: `entries` sha256 keys (as verify-policy.ts makes them) to one shared verdict.
  const cacheAlone = async (): Promise<number> => {
    const { SingleFlightCache } = await from<any>('src/engine/verdict-cache.ts');
    const { hash } = await import('node:crypto');
    const cache = new SingleFlightCache('verdict', entries);
    const verdict = Object.freeze({ status: 'verified' });
    const keyOf = (i: number): string => hash('sha256', `bench ${i}`, 'latin1' as 'hex');
    const before = await collect();
    for (let i = 0; i < entries; i++)
      await cache.get(
        keyOf(i),
        async () => verdict,
        () => 3_600_000,
      );
    const after = await collect();
    if (cache.size !== entries || cache.peek(keyOf(0)) !== verdict) throw new Error('cache lost entries');
    return (after - before) / entries;
  };
  return {
    entries: {
      allowBytes: await perEntry('allow'),
      refusalBytes: await perEntry('refusal'),
      cacheBytes: await cacheAlone(),
    },
  };
}
/* eslint-enable @typescript-eslint/no-explicit-any */

const result =
  values.mode === 'verify'
    ? await verifyMode()
    : values.mode === 'memory'
      ? await memoryMode()
      : values.mode === 'entries'
        ? await entriesMode()
        : await webhookMode();
process.stdout.write(`${JSON.stringify(result)}\n`);
