// One measurement round of `npm run bench` for ONE source tree, in a fresh process (run.ts alternates
// rounds between trees: the branch and, with --baseline, another checkout such as main's). Everything
// under test is imported from that tree; the registries, fixtures and load client are shared.
// Prints one JSON object. Modes:
//   verify   cold verification of a new digest: verifyImage per case with a long-lived client (warm
//            connections, as the webhook has), p50 wall, median CPU and registry requests per image;
//   webhook  warm /validate (cache hits) of the real `sigward webhook` process against a bare fastify
//            HTTPS server process answering the same review (bench/bare-server.ts), at 1, 16 and 64
//            keep-alive connections (load from another process, short runs alternated pair by pair),
//            CPU per request, server-side p50/p99 and event-loop lag measured inside each server
//            (bench/probe.ts); in-process CPU per review through the app (inject); cold reviews
//            (empty caches, a new policy generation per review) at 1 and 16 concurrent; event-loop lag;
//   memory   RSS after N cold reviews through the engine (verdict cache of 100k entries), then with the
//            cache topped up to 100k entries by copies of a real verdict under distinct keys.
import { execFile, spawn } from 'node:child_process';
import { parseArgs, promisify } from 'node:util';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import fastify from 'fastify';
import { makeTestTls } from '../test/support/tls.ts';
import { fulcioRekor, kubewarden } from '../test/sigstore/discover-fixtures.ts';

const { values } = parseArgs({
  options: {
    root: { type: 'string' },
    mode: { type: 'string' },
    docker: { type: 'string' },
    olareg: { type: 'string' },
    runs: { type: 'string', default: '40' },
    requests: { type: 'string', default: '3000' },
    /** Alternated bare/sigward pairs of warm runs per connection count. */
    'warm-pairs': { type: 'string', default: '5' },
    verifications: { type: 'string', default: '10000' },
  },
});
const root = resolve(values.root ?? '.');
const from = <T>(path: string): Promise<T> => import(join(root, path)) as Promise<T>;
const runs = Number(values.runs);
const here = fileURLToPath(new URL('.', import.meta.url));

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};
const cpuMs = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;
/** RSS split as the kernel counts it: anonymous memory (heap, malloc) vs mapped files (node's binary). */
const rssParts = (): { anonMiB: number; fileMiB: number } => {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kib = (field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { anonMiB: kib('RssAnon') / 1024, fileMiB: kib('RssFile') / 1024 };
};

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
          },
        ]),
    {
      name: 'cosign v3 bundle, fallback tag (docker-registry)',
      registry: values.docker!,
      repository: 'bench/bundle',
      digest: kubewarden.digest,
      authority: keyless(kubewarden.subject, kubewarden.issuer),
    },
    {
      name: 'legacy .sig, keyless + Rekor SET (docker-registry)',
      registry: values.docker!,
      repository: 'bench/legacy',
      digest: fulcioRekor.digest,
      authority: keyless(fulcioRekor.subject, fulcioRekor.issuer),
    },
  ];
  const rows = [];
  for (const c of cases) {
    let requests = 0;
    const client = new RegistryClient({ onExchange: () => void requests++ });
    const image = { repository: { registry: c.registry, repository: c.repository }, digest: c.digest };
    const once = async (): Promise<void> => {
      const verdict = await verifyImage({ client, image, authorities: [c.authority], trust });
      if (verdict.status !== 'verified') throw new Error(`${c.name}: ${verdict.code} ${verdict.message}`);
    };
    for (let i = 0; i < 3; i++) await once();
    requests = 0;
    const walls: number[] = [];
    const cpus: number[] = [];
    for (let i = 0; i < runs; i++) {
      const cpu = process.cpuUsage();
      const t = performance.now();
      await once();
      walls.push(performance.now() - t);
      cpus.push(cpuMs(process.cpuUsage(cpu)));
    }
    rows.push({ name: c.name, wallMs: median(walls), cpuMs: median(cpus), requests: requests / runs });
    await client.close();
  }
  return { verify: rows };
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
  for (let i = 0; i < 3; i++) await coldReview();
  const cold1: number[] = [];
  let cpu = process.cpuUsage();
  for (let i = 0; i < runs; i++) cold1.push(await coldReview());
  const cold1Cpu = cpuMs(process.cpuUsage(cpu)) / runs;
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
    handleReview: w.engine.handle,
    readiness: () => ({ ready: true, reasons: [] }),
    metrics: w.metrics,
    logger: createLogger({ destination: quiet }),
  });
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
      join(root, 'bin/sigward'),
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
  ): Promise<{
    rps: number;
    p50: number;
    serverCpuUs: number;
    serverP50: number;
    serverP99: number;
    lagP99: number;
    gcUs: number;
  }> => {
    await server.ask('reset');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        join(here, 'load.ts'),
        `${server.url}/validate`,
        bodyFile,
        caFile,
        String(connections),
        String(warmRequests),
      ],
      // The load client runs as it is whatever NODE_OPTIONS the server under test was given.
      { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } },
    );
    const report = (await server.ask('report')) as {
      cpuUs: number;
      requests: number;
      p50: number;
      p99: number;
      lagP99: number;
      gcMs: number;
    };
    const client = JSON.parse(stdout) as { rps: number; p50: number };
    return {
      rps: client.rps,
      p50: client.p50,
      serverCpuUs: report.cpuUs / report.requests,
      serverP50: report.p50,
      serverP99: report.p99,
      lagP99: report.lagP99,
      gcUs: (report.gcMs * 1000) / report.requests,
    };
  };
  const warm = [];
  try {
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
          serverCpuUs: pick('serverCpuUs'),
          serverP50: pick('serverP50'),
          serverP99: pick('serverP99'),
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
      concurrent16: {
        rps: total16 / cold16Seconds,
        p50Ms: median(cold16),
        cpuMsPerReview: cold16Cpu,
        lagP99: cold16Lag,
      },
    },
    warm,
    inject,
  };
}

async function memoryMode(): Promise<object> {
  const harness = await from<any>('test/engine/harness.ts');
  const host = values.docker!;
  const entries = 100_000;
  const { policy, review } = signedImageCase(harness, host);
  const e = harness.engineUnderTest([policy(1)], { deadlineMs: 60_000, cache: { maxVerdicts: entries } });
  const lag = monitorEventLoopDelay({ resolution: 5 });
  const n = Number(values.verifications);
  let generation = 1;
  let next = 0;
  const rssStart = process.memoryUsage().rss;
  lag.enable();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next++ < n) {
        e.setPolicies([policy(++generation)]);
        const r = await e.review(review);
        if (!harness.responseOf(r).allowed) throw new Error(JSON.stringify(harness.responseOf(r)));
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  lag.disable();
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.();
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const afterCold = process.memoryUsage();
  const afterColdParts = rssParts();
  // Top the verdicts up to 100k through the same tree's Decider (its own keys and what it keeps of a
  // verdict), other image digests each, with a verifier that answers a copy of a real verdict at once.
  const { Decider } = await from<any>('src/engine/decide.ts');
  const { buildSnapshot } = await from<any>('src/kube/snapshot.ts');
  const { prodRoot } = await from<any>('test/sigstore/ext.ts');
  const real = await e.registry.verify({
    image: { repository: { registry: host, repository: 'signed/kubewarden' }, digest: kubewarden.digest },
    authorities: [{ kind: 'keyless', name: 'release-workflow', match: () => ({ matched: true }) }],
    trust: prodRoot(),
    multiArch: { mode: 'digest' },
    keychain: { credentialsFor: () => [] },
    signal: AbortSignal.timeout(10_000),
  });
  if (real.status !== 'verified') throw new Error(`${real.code}: ${real.message}`);
  let verifierCalls = 0;
  const decider = new Decider(
    {
      resolver: { resolveDigest: () => Promise.reject(new Error('not used')) },
      verifier: { verify: async () => (verifierCalls++, structuredClone(real)) },
      trustRoots: { trustRoot: (name: string) => (name === 'public-good' ? prodRoot() : undefined) },
    },
    {
      deadlineMs: 2000,
      verificationCapMs: 2000,
      evaluation: { unmatched: 'deny', errors: 'deny' },
      cache: { maxVerdicts: entries },
    },
  );
  const snapshot = buildSnapshot([policy(1)]);
  for (let i = n; i < entries; i++) {
    const digest = `sha256:${i.toString(16).padStart(64, '0')}`;
    const [decision] = await decider.decide(
      [{ field: 'spec.containers[0].image', image: `${host}/signed/kubewarden@${digest}` }],
      { namespace: 'apps' },
      snapshot,
    );
    if (decision.outcome !== 'allow') throw new Error(JSON.stringify(decision));
  }
  // Each review's deadline timer lives its full 2 s even when the answer came at once: let them go.
  // Then let V8 give back the pages that fast fill loop grew the heap by (full collections, idle time).
  await new Promise((resolve) => setTimeout(resolve, 2500));
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.();
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const full = process.memoryUsage();
  const fullParts = rssParts();
  // Still cached (all of them): deciding the first and the last digest again verifies nothing.
  const callsBefore = verifierCalls;
  for (const i of [n, entries - 1]) {
    const digest = `sha256:${i.toString(16).padStart(64, '0')}`;
    await decider.decide(
      [{ field: 'spec.containers[0].image', image: `${host}/signed/kubewarden@${digest}` }],
      { namespace: 'apps' },
      snapshot,
    );
  }
  if (verifierCalls !== callsBefore) throw new Error('the verdict cache did not hold 100k entries');
  await e.close();
  return {
    memory: {
      coldReviews: n,
      coldPerSecond: n / seconds,
      lagP99: lag.percentile(99) / 1e6,
      rssStartMiB: rssStart / 2 ** 20,
      rssAfterColdMiB: afterCold.rss / 2 ** 20,
      heapAfterColdMiB: afterCold.heapUsed / 2 ** 20,
      rssWith100kMiB: full.rss / 2 ** 20,
      heapWith100kMiB: full.heapUsed / 2 ** 20,
      heapCommittedWith100kMiB: full.heapTotal / 2 ** 20,
      rssAnonAfterColdMiB: afterColdParts.anonMiB,
      rssAnonWith100kMiB: fullParts.anonMiB,
      rssFileWith100kMiB: fullParts.fileMiB,
      detail: { afterCold, full },
    },
  };
}
/* eslint-enable @typescript-eslint/no-explicit-any */

const result =
  values.mode === 'verify'
    ? await verifyMode()
    : values.mode === 'memory'
      ? await memoryMode()
      : await webhookMode();
process.stdout.write(`${JSON.stringify(result)}\n`);
