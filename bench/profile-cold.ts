// Profiling aid for the cold path (#14): verifyImage of a new digest, as bench/measure.ts's verify mode
// runs it, many times per case against the bench registries, so `node --cpu-prof` profiles only that.
//   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/profile-cold.ts [RUNS] [CASE-SUBSTRING|all]
// Cases: referrers (olareg, API), olareg-fallback (olareg, API off: the fallback tag), fallback
// (docker-registry), legacy (docker-registry), legacy-olareg; CPU is shown with its system (kernel) part.
// BENCH_LATENCY_MS=2 makes every registry answer take at least 2 ms (a timer started with the request),
// as across a network: what overlaps a round trip shows there, whatever the machine's load.
// The registries are served by a child process (their log pipes would otherwise be profiled too).
// Other trees named after the case are measured in the same process, 5 rounds alternated (figures per
// round: p50 wall and CPU per verification; medians of the rounds, with the ratios):
//   node bench/profile-cold.ts 200 all /work/wt-perf-baseline4
// Per case and tree it also shows the garbage collections (perf_hooks: scavenges and mark-compacts per
// 1,000 verifications, their main-thread pauses per verification; a mark-compact's background marking,
// often the larger part, is in the CPU figure only) and the main thread's context switches per
// verification (/proc/self/status: voluntary, waiting for a registry; involuntary, preempted, e.g. by a
// registry woken on the same core). Collections are counted in the round in which they happen.
// `--bundle` measures the cosign v3 bundle's verification alone (parse + verifyBundle, no registry) in
// this tree and in each other tree named, rounds alternated, and lists the signature checks one
// verification makes (what is signed, by which key, warm trust root):
//   node bench/profile-cold.ts --bundle [RUNS] [OTHER-TREE...]
// (BUNDLE_ROUNDS=N for N rounds instead of 5, e.g. BUNDLE_ROUNDS=40 with RUNS 100; each ratio line also
// gives the median of the rounds' own ratios. BUNDLE_JS_ONLY=1 times the JavaScript alone: node:crypto's
// `verify` answers true during the rounds, a measuring aid of this script only. BUNDLE_SAME_CERTIFICATE=1
// leaves a tree's leaf memo on: every verification after the first finds its certificate remembered, as a
// second image of one cosign invocation does; by default each tree verifies a leaf seen for the first time.)
import { fork } from 'node:child_process';
import type * as NodeCrypto from 'node:crypto';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { leafMemoOff } from './leaf-memo-off.ts';
import { RegistryClient } from '../src/oci/client.ts';
import type * as BundleModule from '../src/sigstore/bundle.ts';
import type * as VerifyModule from '../src/sigstore/verify.ts';
import { verifyImage } from '../src/sigstore/verify-image.ts';
import { identityCheck } from '../src/cli/identity-flags.ts';
import { compileIdentity } from '../src/policy/identity.ts';
import { startDockerRegistry } from '../test/support/docker-registry.ts';
import { OLAREG_BIN, startOlareg } from '../test/support/olareg.ts';
import { prodRoot } from '../test/sigstore/ext.ts';
import type * as ExtModule from '../test/sigstore/ext.ts';
import {
  fulcioRekor,
  kubewarden,
  pushBundleReferrer,
  pushLegacySignature,
} from '../test/sigstore/discover-fixtures.ts';
import { median } from './stats.ts';

interface Hosts {
  readonly docker: string;
  readonly olareg?: string;
  /** olareg with its referrers API off (the fallback tag). */
  readonly olaregFallback?: string;
}

/** Garbage collections seen so far in this process (perf_hooks 'gc' entries, main-thread pauses). */
const collections = (() => {
  let scavenges = 0;
  let markCompacts = 0;
  let pauseMs = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
      if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) scavenges++;
      else if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) markCompacts++;
      pauseMs += entry.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  return { snapshot: () => ({ scavenges, markCompacts, pauseMs }) };
})();

/** The main thread's context switches so far (Linux; zeros elsewhere). */
function contextSwitches(): { voluntary: number; involuntary: number } {
  let status = '';
  try {
    status = readFileSync('/proc/thread-self/status', 'utf8');
  } catch {
    return { voluntary: 0, involuntary: 0 };
  }
  const count = (name: string): number =>
    Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { voluntary: count('voluntary_ctxt_switches'), involuntary: count('nonvoluntary_ctxt_switches') };
}

/** Rounds of `--bundle` (BUNDLE_ROUNDS=40 with fewer RUNS each shows a 1–2 % change through the load). */
const BUNDLE_ROUNDS = Number(process.env.BUNDLE_ROUNDS ?? '5');

if (process.argv[2] === '--serve') await serve();
else if (process.argv[2] === '--bundle')
  await profileBundle(Number(process.argv[3] ?? '1000'), process.argv.slice(4));
else await profile(Number(process.argv[2] ?? '300'), process.argv[3], process.argv.slice(4));

/** Child: starts the registries with the bench's signatures, tells the parent where, stops on disconnect. */
async function serve(): Promise<void> {
  const registry = await startDockerRegistry();
  const olareg = existsSync(OLAREG_BIN) ? await startOlareg({ referrersApi: true }) : undefined;
  const olaregFallback = existsSync(OLAREG_BIN) ? await startOlareg({ referrersApi: false }) : undefined;
  const setup = new RegistryClient();
  await pushBundleReferrer(
    setup,
    { registry: registry.host, repository: 'bench/bundle' },
    kubewarden.digest,
    kubewarden.bundle(),
  );
  await pushLegacySignature(
    setup,
    { registry: registry.host, repository: 'bench/legacy' },
    fulcioRekor.digest,
    [fulcioRekor.layer()],
  );
  if (olareg !== undefined)
    await pushBundleReferrer(
      setup,
      { registry: olareg.host, repository: 'bench/bundle' },
      kubewarden.digest,
      kubewarden.bundle(),
      { fallbackTag: false },
    );
  if (olareg !== undefined)
    await pushLegacySignature(
      setup,
      { registry: olareg.host, repository: 'bench/legacy' },
      fulcioRekor.digest,
      [fulcioRekor.layer()],
    );
  if (olaregFallback !== undefined)
    await pushBundleReferrer(
      setup,
      { registry: olaregFallback.host, repository: 'bench/bundle' },
      kubewarden.digest,
      kubewarden.bundle(),
    );
  await setup.close();
  const hosts: Hosts = {
    docker: registry.host,
    ...(olareg === undefined ? {} : { olareg: olareg.host }),
    ...(olaregFallback === undefined ? {} : { olaregFallback: olaregFallback.host }),
  };
  process.send!(hosts);
  await once(process, 'disconnect');
  await registry.stop();
  await olareg?.stop();
  await olaregFallback?.stop();
}

interface TreeModules {
  readonly RegistryClient: typeof RegistryClient;
  readonly verifyImage: typeof verifyImage;
  readonly identityCheck: typeof identityCheck;
  readonly compileIdentity: typeof compileIdentity;
  readonly prodRoot: typeof prodRoot;
}

/** A tree's own modules (this tree's already imported; another's imported from its checkout). */
async function treeModules(tree: string | undefined): Promise<TreeModules> {
  // One signature verified over and over: its leaf as one seen for the first time (leaf-memo-off.ts).
  await leafMemoOff(resolve(tree ?? fileURLToPath(new URL('..', import.meta.url))));
  if (tree === undefined) return { RegistryClient, verifyImage, identityCheck, compileIdentity, prodRoot };
  const at = <T>(path: string): Promise<T> => import(`${resolve(tree)}/${path}`) as Promise<T>;
  const [client, image, flags, identity, ext] = await Promise.all([
    at<{ RegistryClient: typeof RegistryClient }>('src/oci/client.ts'),
    at<{ verifyImage: typeof verifyImage }>('src/sigstore/verify-image.ts'),
    at<{ identityCheck: typeof identityCheck }>('src/cli/identity-flags.ts'),
    at<{ compileIdentity: typeof compileIdentity }>('src/policy/identity.ts'),
    at<{ prodRoot: typeof prodRoot }>('test/sigstore/ext.ts'),
  ]);
  return { ...client, ...image, ...flags, ...identity, ...ext };
}

/**
 * Each case RUNS times per round in this tree and each other tree (5 rounds alternated when there are
 * others, so load hits all alike; 1 round alone): p50 wall, CPU and requests per verification, medians.
 */
async function profile(runs: number, only: string | undefined, others: readonly string[]): Promise<void> {
  const latencyMs = Number(process.env['BENCH_LATENCY_MS'] ?? '0');
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], { execArgv: [] });
  const [hosts] = (await once(child, 'message')) as [Hosts];
  try {
    const cases = [
      ...(hosts.olareg === undefined
        ? []
        : [{ name: 'referrers', registry: hosts.olareg, repository: 'bench/bundle', ...kubewarden }]),
      ...(hosts.olaregFallback === undefined
        ? []
        : [
            {
              name: 'olareg-fallback',
              registry: hosts.olaregFallback,
              repository: 'bench/bundle',
              ...kubewarden,
            },
          ]),
      { name: 'fallback', registry: hosts.docker, repository: 'bench/bundle', ...kubewarden },
      { name: 'legacy', registry: hosts.docker, repository: 'bench/legacy', ...fulcioRekor },
      ...(hosts.olareg === undefined
        ? []
        : [{ name: 'legacy-olareg', registry: hosts.olareg, repository: 'bench/legacy', ...fulcioRekor }]),
    ].filter(
      (c, _, all) =>
        only === undefined ||
        only === 'all' ||
        // A case's exact name runs only it (`fallback` is also part of `olareg-fallback`).
        (all.some((a) => a.name === only) ? c.name === only : c.name.includes(only)),
    );
    const trees = [undefined, ...others];
    const modules = await Promise.all(trees.map(treeModules));
    const rounds = others.length === 0 ? 1 : 5;
    for (const c of cases) {
      const figures = trees.map(() => ({
        p50: [] as number[],
        cpu: [] as number[],
        system: [] as number[],
        scavenges: 0,
        markCompacts: 0,
        gcPauseMs: 0,
        voluntary: 0,
        involuntary: 0,
        requests: 0,
      }));
      const runners = modules.map((m, t) => {
        const client = new m.RegistryClient({ onExchange: () => void figures[t]!.requests++ });
        const reader = latencyMs > 0 ? withLatency(client, latencyMs) : client;
        const image = { repository: { registry: c.registry, repository: c.repository }, digest: c.digest };
        const authority = {
          kind: 'keyless' as const,
          name: 'keyless',
          match: m.identityCheck(m.compileIdentity({ subject: c.subject, issuer: c.issuer })),
        };
        const trust = m.prodRoot().material;
        const verifyOnce = async (): Promise<number> => {
          const t0 = performance.now();
          const verdict = await m.verifyImage({ client: reader, image, authorities: [authority], trust });
          if (verdict.status !== 'verified') throw new Error(`${c.name}: ${verdict.code} ${verdict.message}`);
          return performance.now() - t0;
        };
        return { client, verifyOnce };
      });
      for (const { verifyOnce } of runners) for (let i = 0; i < 5; i++) await verifyOnce();
      figures.forEach((f) => (f.requests = 0));
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? runners.keys() : [...runners.keys()].reverse();
        for (const t of order) {
          const walls: number[] = [];
          const gcBefore = collections.snapshot();
          const switchesBefore = contextSwitches();
          const cpu = process.cpuUsage();
          for (let i = 0; i < runs; i++) walls.push(await runners[t]!.verifyOnce());
          const used = process.cpuUsage(cpu);
          const switches = contextSwitches();
          const f = figures[t]!;
          f.voluntary += switches.voluntary - switchesBefore.voluntary;
          f.involuntary += switches.involuntary - switchesBefore.involuntary;
          const gc = collections.snapshot();
          f.scavenges += gc.scavenges - gcBefore.scavenges;
          f.markCompacts += gc.markCompacts - gcBefore.markCompacts;
          f.gcPauseMs += gc.pauseMs - gcBefore.pauseMs;
          figures[t]!.p50.push(median(walls));
          figures[t]!.cpu.push((used.user + used.system) / 1000 / runs);
          figures[t]!.system.push(used.system / 1000 / runs);
        }
      }
      trees.forEach((tree, t) => {
        const f = figures[t]!;
        const ratio =
          t === 0
            ? ''
            : `; this tree ÷ it: p50 ${(median(figures[0]!.p50) / median(f.p50)).toFixed(2)}×, CPU ${(median(figures[0]!.cpu) / median(f.cpu)).toFixed(2)}×`;
        console.log(
          `${c.name}${tree === undefined ? '' : ` [${tree}]`}: p50 ${median(f.p50).toFixed(2)} ms, CPU ${median(f.cpu).toFixed(2)} ms (system ${median(f.system).toFixed(2)}), requests ${(f.requests / runs / rounds).toFixed(1)}${ratio}`,
        );
        const verifications = runs * rounds;
        console.log(
          `  GC per 1,000: ${((f.scavenges / verifications) * 1000).toFixed(0)} scavenges, ${((f.markCompacts / verifications) * 1000).toFixed(1)} mark-compacts; main-thread pauses ${((f.gcPauseMs / verifications) * 1000).toFixed(0)} µs per verification; context switches per verification: ${(f.voluntary / verifications).toFixed(1)} voluntary, ${(f.involuntary / verifications).toFixed(1)} involuntary`,
        );
      });
      for (const { client } of runners) await client.close();
    }
  } finally {
    child.disconnect();
    await once(child, 'exit');
  }
}

/**
 * `client` as if each registry answer took at least `ms` (a registry across a network rather than on
 * loopback): a timer started with each request, so work done meanwhile overlaps it as it would.
 */
function withLatency(
  client: RegistryClient,
  ms: number,
): Parameters<typeof verifyImage>[0]['client'] & Pick<RegistryClient, 'servesReferrersApi'> {
  const slow =
    <A extends unknown[], R>(read: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const [answer] = await Promise.all([read.apply(client, args), delay(ms)]);
      return answer;
    };
  return {
    listReferrers: slow(client.listReferrers),
    findManifest: slow(client.findManifest),
    getManifest: slow(client.getManifest),
    getBlob: slow(client.getBlob),
    servesReferrersApi: (registry) => client.servesReferrersApi(registry),
  };
}

interface SignatureCheck {
  readonly hash: string;
  readonly key: string;
  readonly bytes: number;
}

/** Every node:crypto `verify` made while `run` runs (the library calls it through `require('crypto')`). */
function signatureChecks(run: () => void): SignatureCheck[] {
  const nodeCrypto = createRequire(import.meta.url)('node:crypto') as typeof NodeCrypto;
  const original = nodeCrypto.verify;
  const checks: SignatureCheck[] = [];
  const watched = (...args: Parameters<typeof original>): boolean => {
    const [hash, data, key] = args as unknown as [string | null, Uint8Array, NodeCrypto.KeyObject];
    const details = key.asymmetricKeyDetails;
    checks.push({
      hash: hash ?? '(key default)',
      key: `${key.asymmetricKeyType}/${details?.namedCurve ?? details?.modulusLength}`,
      bytes: data.length,
    });
    return (original as (...a: unknown[]) => boolean)(...args);
  };
  nodeCrypto.verify = watched as typeof original;
  try {
    run();
  } finally {
    nodeCrypto.verify = original;
  }
  return checks;
}

/** parse + verifyBundle of the cosign v3 bundle, per tree: CPU per verification, medians of the rounds. */
async function profileBundle(runs: number, others: string[]): Promise<void> {
  const trees = [resolve(fileURLToPath(new URL('..', import.meta.url))), ...others.map((t) => resolve(t))];
  const verifiers = await Promise.all(
    trees.map(async (tree) => {
      const { parseBundle } = (await import(`${tree}/src/sigstore/bundle.ts`)) as typeof BundleModule;
      const { verifyBundle } = (await import(`${tree}/src/sigstore/verify.ts`)) as typeof VerifyModule;
      const { prodRoot } = (await import(`${tree}/test/sigstore/ext.ts`)) as typeof ExtModule;
      if (process.env.BUNDLE_SAME_CERTIFICATE !== '1') await leafMemoOff(tree);
      const trust = prodRoot().material;
      const raw = kubewarden.bundle();
      return () => {
        verifyBundle({
          bundle: parseBundle(raw),
          trust,
          signer: { kind: 'keyless' },
          content: { kind: 'image', digest: kubewarden.digest },
        });
      };
    }),
  );
  // BUNDLE_JS_ONLY=1: node:crypto's `verify` answers true while the rounds run (here only, a measuring
  // aid): the verification's JavaScript without the signature math, where a change of tens of µs is a
  // few percent instead of one. The signature checks listed below run for real afterwards.
  const nodeCrypto = createRequire(import.meta.url)('node:crypto') as typeof NodeCrypto;
  const realVerify = nodeCrypto.verify;
  if (process.env.BUNDLE_JS_ONLY === '1') nodeCrypto.verify = (() => true) as unknown as typeof realVerify;
  const cpu: number[][] = trees.map(() => []);
  try {
    for (const verify of verifiers) for (let i = 0; i < 200; i++) verify();
    // Rounds alternate the trees' order (forward, backward), so neither always runs right after the other.
    for (let round = 0; round < BUNDLE_ROUNDS; round++) {
      const order = verifiers.map((_, t) => (round % 2 === 0 ? t : verifiers.length - 1 - t));
      for (const t of order) {
        const start = process.cpuUsage();
        for (let i = 0; i < runs; i++) verifiers[t]!();
        const used = process.cpuUsage(start);
        cpu[t]!.push((used.user + used.system) / 1000 / runs);
      }
    }
  } finally {
    nodeCrypto.verify = realVerify;
  }
  trees.forEach((tree, t) => {
    const checks = signatureChecks(verifiers[t]!);
    // The median of the rounds' own ratios too: both trees of a round ran within a second or so, under
    // the same load, which a ratio of medians over a whole run at a shifting load does not ensure.
    const paired = median(cpu[0]!.map((c, round) => c / cpu[t]![round]!));
    const ratio =
      t === 0
        ? ''
        : `, this tree ÷ it ${(median(cpu[0]!) / median(cpu[t]!)).toFixed(2)}× (median of the rounds' ratios ${paired.toFixed(3)}×)`;
    const rounds = cpu[t]!.length <= 10 ? ` (rounds ${cpu[t]!.map((c) => c.toFixed(3)).join(' ')})` : '';
    console.log(`${tree}: verifyBundle CPU ${median(cpu[t]!).toFixed(3)} ms${rounds}${ratio}`);
    for (const c of checks) console.log(`  signature check: ${c.key} ${c.hash} over ${c.bytes} bytes`);
  });
}
