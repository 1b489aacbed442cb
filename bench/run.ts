// `npm run bench`: sigward's speed and memory, as medians of repeated rounds, each round a fresh
// process per source tree (bench/measure.ts). With --baseline DIR (another checkout, e.g. main's in
// its own worktree), rounds alternate between the two trees in the same run and every figure is also
// shown as a ratio, so machine load hits both alike.
//   npm run bench
//   npm run bench -- --baseline /work/wt-perf-baseline --rounds 3
//   npm run bench -- --no-memory          # skip the 10k-verification memory run
//   npm run bench -- --verify-only --no-memory   # only the cold verifyImage cases (bench/measure.ts verify)
//   npm run bench -- --verify-only --no-memory --verify-warm-up 3   # ... measured in a fresh process's first verifications
//   npm run bench -- --baseline DIR --node-options="--max-semi-space-size=2"   # speed modes with these options
//   npm run bench -- --baseline . --baseline-node-options="A" --node-options="B" --no-memory   # options A vs B
//   npm run bench -- --rounds 0 --verifications 10000   # memory only: the real webhook, then 100k verdicts
//   npm run bench -- --baseline DIR --rounds 0 --memory-rounds 3   # memory, 3 alternated runs per tree (medians)
//   npm run bench -- --rounds 0 --memory-node-flags="--max-old-space-size=256"   # the webhook with more options
//   npm run bench -- --run-from source    # the webhook from src/ by type stripping, not the compiled build
// Registries: Debian's docker-registry 2.8 (no referrers API) and, when built (npm run e2e:tools), two
// olaregs, one with the referrers API and one without (the fallback tag, as on docker-registry), and
// CNCF distribution v3 (`registry:3`, e2e/.bin/distribution-registry; no referrers API), all on
// 127.0.0.1, holding real public-good signatures placed as cosign places them (cosign v3 bundle of
// kubewarden-controller; containers/image's keyless legacy .sig). Each cold case also shows the
// registry alone: the same requests in the same rounds by a plain undici client (bench/measure.ts),
// and its floor on this machine: one verification's node:crypto operations, each timed alone on the
// same inputs (bench/crypto-trace.ts), plus that plain client's CPU; the rest is the code's own.
// Cold cases, always in this order (a case whose registry is not built is left out):
//   1 cosign v3 bundle, referrers API (olareg)
//   2 cosign v3 bundle, fallback tag (olareg, API off)
//   3 cosign v3 bundle, fallback tag (docker-registry)
//   4 legacy .sig, keyless + Rekor SET (docker-registry)
//   5 legacy .sig, keyless + Rekor SET (olareg)
//   6 cosign v3 bundle, fallback tag (distribution v3)
//   7 legacy .sig, keyless + Rekor SET (distribution v3)
//   8 cosign v3 bundle, the same certificate again (olareg referrers API; docker-registry without it):
//     another image signed with the same certificate, its leaf remembered (src/sigstore/leaf-memo.ts).
//     Cases 1-7 verify their leaf as one seen for the first time (a trust material object per
//     verification; bench/leaf-memo-off.ts turns the memo off for every other cold figure).
// The cases are this tree's (bench/measure.ts is always this tree's file; a baseline tree gives only
// the code it imports), so a baseline older than a case is measured on it too.
import { execFile } from 'node:child_process';
import { parseArgs, promisify } from 'node:util';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './stats.ts';
import { SETTLE_SECONDS } from './memory-settle.ts';
import { RegistryClient } from '../src/oci/client.ts';
import { startDockerRegistry } from '../test/support/docker-registry.ts';
import { OLAREG_BIN, startOlareg } from '../test/support/olareg.ts';
import {
  distributionRegistryBuilt,
  startDistributionRegistry,
} from '../test/support/distribution-registry.ts';
import { pushFixtures } from '../test/engine/harness.ts';
import {
  fulcioRekor,
  kubewarden,
  pushBundleReferrer,
  pushLegacySignature,
} from '../test/sigstore/discover-fixtures.ts';

const { values } = parseArgs({
  options: {
    baseline: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    runs: { type: 'string', default: '40' },
    /** Unmeasured cold verifications of each case (all cases in turn) before any is measured (measure.ts). */
    'verify-warm-up': { type: 'string', default: '300' },
    requests: { type: 'string', default: '3000' },
    /** Alternated bare/sigward pairs of warm runs per connection count in each round. */
    'warm-pairs': { type: 'string', default: '5' },
    /** Unmeasured requests each warm server answers first (JIT steady state); 0 measures from a cold start. */
    'warm-up': { type: 'string', default: '20000' },
    verifications: { type: 'string', default: '10000' },
    /** Repositories the memory run verifies in (each holds the signed bundle); verifications / (10 policies × this) generations. */
    'memory-repositories': { type: 'string', default: '100' },
    'no-memory': { type: 'boolean' },
    /** Memory runs per tree, alternated between the trees (medians of them). */
    'memory-rounds': { type: 'string', default: '1' },
    /** Only the cold verification cases (verify mode): no webhook mode (warm /validate, cold reviews). */
    'verify-only': { type: 'boolean' },
    /** More node flags for the memory run's webhook of both trees, on its command line after the
     *  chart's NODE_OPTIONS (experiments; V8 flags NODE_OPTIONS refuses, e.g. --optimize-for-size, too). */
    'memory-node-flags': { type: 'string', default: '' },
    /** What the webhook and memory modes start: `build`, each tree's compiled JavaScript as the image
     *  ships it (its tsconfig.build.json compiled by its tsc into its .scratch-bench-build/ first, so a
     *  dist/ in use is left alone; a tree without a build step runs from source), or `source`
     *  (bin/sigward.js on src/ by Node's type stripping, as in development). */
    'run-from': { type: 'string', default: 'build' },
    /** NODE_OPTIONS for this tree's processes only, in every mode (as the chart sets it; the baseline runs
     *  without), e.g. --node-options="$(node -p "require('yaml').parse(fs.readFileSync('charts/sigward/values.yaml','utf8')).nodeOptions")". */
    'node-options': { type: 'string' },
    /** NODE_OPTIONS for the baseline's processes in the speed modes (default: none), so that with
     *  --baseline . the same code runs under two sets of options, e.g. --baseline-node-options="--max-semi-space-size=2". */
    'baseline-node-options': { type: 'string' },
  },
});
const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const branch = resolve(here, '..');
const trees: { name: string; root: string }[] = [
  ...(values.baseline === undefined ? [] : [{ name: 'baseline', root: resolve(values.baseline) }]),
  { name: 'this tree', root: branch },
];

if (values['run-from'] !== 'build' && values['run-from'] !== 'source')
  throw new Error('--run-from is build or source');
/** The `sigward` command of a tree the webhook and memory modes start (bench/measure.ts --entry). */
const entries = new Map<string, string>();
for (const tree of trees) {
  const compiled = values['run-from'] === 'build' && existsSync(join(tree.root, 'tsconfig.build.json'));
  if (compiled) {
    const out = join(tree.root, '.scratch-bench-build');
    rmSync(out, { recursive: true, force: true });
    const tsc = join(tree.root, 'node_modules/typescript/bin/tsc');
    await run(process.execPath, [tsc, '-p', join(tree.root, 'tsconfig.build.json'), '--outDir', out]);
  }
  entries.set(tree.name, compiled ? '.scratch-bench-build/bin/sigward.js' : 'bin/sigward.js');
}

const registry = await startDockerRegistry();
const olareg = existsSync(OLAREG_BIN) ? await startOlareg({ referrersApi: true }) : undefined;
// The same registry with its referrers API off: the fallback tag, without docker-registry's slowness.
const olaregFallback = existsSync(OLAREG_BIN) ? await startOlareg({ referrersApi: false }) : undefined;
// distribution v3 as `registry:3` runs it (no TLS, no auth here, like docker-registry above).
const distributionV3 = distributionRegistryBuilt() ? await startDistributionRegistry() : undefined;
const setup = new RegistryClient();
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const results = new Map<string, Json[]>(trees.map((t) => [t.name, []]));
try {
  const repo = (registryHost: string, repository: string) => ({ registry: registryHost, repository });
  /** The cosign v3 bundle as a referrer (also under the fallback tag unless `fallbackTag` is false)
   *  and, unless `legacy` is false, the legacy `.sig`. */
  const pushSignatures = async (
    host: string,
    options: { fallbackTag?: boolean; legacy?: boolean } = {},
  ): Promise<void> => {
    await pushBundleReferrer(setup, repo(host, 'bench/bundle'), kubewarden.digest, kubewarden.bundle(), {
      fallbackTag: options.fallbackTag !== false,
    });
    if (options.legacy !== false)
      await pushLegacySignature(setup, repo(host, 'bench/legacy'), fulcioRekor.digest, [fulcioRekor.layer()]);
  };
  await pushSignatures(registry.host);
  if (olareg !== undefined) await pushSignatures(olareg.host, { fallbackTag: false });
  if (olaregFallback !== undefined) await pushSignatures(olaregFallback.host, { legacy: false });
  if (distributionV3 !== undefined) await pushSignatures(distributionV3.host);
  await pushFixtures(registry.host);
  if (values['no-memory'] !== true)
    await Promise.all(
      Array.from({ length: Number(values['memory-repositories']) }, (_, i) =>
        pushBundleReferrer(
          setup,
          repo(registry.host, `bench/mem-${i}`),
          kubewarden.digest,
          kubewarden.bundle(),
        ),
      ),
    );

  // Asynchronous: the registries' log pipes must keep draining while a measurement runs.
  const measure = async (
    tree: { name: string; root: string },
    mode: string,
    extra: string[] = [],
  ): Promise<Json> => {
    const args = [
      // Code memory held still (measure.ts entriesMode): each window measures the cached entries alone.
      ...(mode === 'entries' ? ['--expose-gc', '--no-flush-bytecode'] : []),
      join(here, 'measure.ts'),
      `--root=${tree.root}`,
      `--mode=${mode}`,
      `--docker=${registry.host}`,
      ...(olareg === undefined ? [] : [`--olareg=${olareg.host}`]),
      ...(olaregFallback === undefined ? [] : [`--olareg-fallback=${olaregFallback.host}`]),
      ...(distributionV3 === undefined ? [] : [`--distribution-v3=${distributionV3.host}`]),
      `--runs=${values.runs}`,
      `--verify-warm-up=${values['verify-warm-up']}`,
      `--requests=${values.requests}`,
      `--warm-pairs=${values['warm-pairs']}`,
      `--warm-up=${values['warm-up']}`,
      `--entry=${entries.get(tree.name)!}`,
      ...extra,
    ];
    try {
      const nodeOptions =
        tree.name === 'this tree' ? values['node-options'] : values['baseline-node-options'];
      const { stdout } = await run(process.execPath, args, {
        encoding: 'utf8',
        maxBuffer: 1 << 24,
        env: nodeOptions === undefined ? process.env : { ...process.env, NODE_OPTIONS: nodeOptions },
      });
      return JSON.parse(stdout.trim().split('\n').pop()!) as Json;
    } catch (error) {
      process.stderr.write(
        `measure ${mode} in ${tree.root} failed:\n${(error as { stderr?: string }).stderr ?? String(error)}\n`,
      );
      throw new Error(`measure ${mode} in ${tree.root} failed`, { cause: error });
    }
  };
  const rounds = Math.max(0, Number(values.rounds));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? trees : [...trees].reverse();
    for (const tree of order) {
      const webhook = values['verify-only'] === true ? {} : await measure(tree, 'webhook');
      results.get(tree.name)!.push({ ...(await measure(tree, 'verify')), ...webhook });
      process.stderr.write(`round ${round + 1}/${rounds}: ${tree.name} done\n`);
    }
  }
  const memory = new Map<string, Json[]>(trees.map((t) => [t.name, []]));
  const memoryRounds = values['no-memory'] === true ? 0 : Math.max(1, Number(values['memory-rounds']));
  for (let round = 0; round < memoryRounds; round++) {
    const order = round % 2 === 0 ? trees : [...trees].reverse();
    for (const tree of order) {
      const { memory: m } = await measure(tree, 'memory', [
        `--verifications=${values.verifications}`,
        `--memory-repositories=${values['memory-repositories']}`,
        `--memory-node-flags=${values['memory-node-flags']}`,
      ]);
      const { entries } = await measure(tree, 'entries');
      memory.get(tree.name)!.push({ ...m, ...entries });
      process.stderr.write(`memory ${round + 1}/${memoryRounds}: ${tree.name} done\n`);
    }
  }

  report(rounds, memoryRounds > 0 ? memory : new Map());
  if (process.env['BENCH_DEBUG']) console.log(JSON.stringify([...memory]));
} finally {
  await setup.close();
  await registry.stop();
  await olareg?.stop();
  await olaregFallback?.stop();
  await distributionV3?.stop();
}

function report(rounds: number, memory: Map<string, Json[]>): void {
  const of = (tree: string, pick: (r: Json) => number): number => median(results.get(tree)!.map(pick));
  const f = (n: number, digits = 2): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');
  const base = trees.length > 1 ? 'baseline' : undefined;
  const cols = (pick: (r: Json) => number, digits = 2): string[] => {
    const mine = of('this tree', pick);
    if (base === undefined) return [f(mine, digits)];
    const theirs = of(base, pick);
    return [f(theirs, digits), f(mine, digits), `${f(mine / theirs)}×`];
  };
  const table = (title: string, header: string[], rows: string[][]): void => {
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]): string =>
      cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
    console.log(`\n${title}`);
    console.log(line(header));
    console.log(widths.map((w) => '-'.repeat(w)).join('  '));
    for (const r of rows) console.log(line(r));
  };
  const head = (what: string): string[] =>
    base === undefined ? [what] : [`${what} base`, `${what} this`, 'ratio'];
  console.log(
    `sigward bench: Node ${process.version}, medians of ${rounds} round(s)${base === undefined ? '' : ' alternated between the baseline and this tree'}, ${values.runs} runs per figure per round; cold verifications after ${values['verify-warm-up']} unmeasured ones per case`,
  );
  if (rounds > 0) speed(head, cols, table);
  if (memory.size > 0) {
    const runs = memory.get('this tree')!.length;
    /** The median over a tree's memory runs of the figure at `path` (e.g. full.rssMiB). */
    const m = (tree: string, path: string): number =>
      median(
        memory
          .get(tree)!
          .map((run) => path.split('.').reduce((v: Json, k) => v?.[k], run) as unknown as number),
      );
    const mcols = (k: string, digits = 0): string[] =>
      base === undefined
        ? [f(m('this tree', k), digits)]
        : [f(m(base, k), digits), f(m('this tree', k), digits), `${f(m('this tree', k) / m(base, k))}×`];
    const pair = (tree: string, a: string, b: string): string => `${f(m(tree, a), 0)} / ${f(m(tree, b), 0)}`;
    const mcols2 = (a: string, b: string): string[] =>
      base === undefined ? [pair('this tree', a, b)] : [pair(base, a, b), pair('this tree', a, b), ''];
    const first = (tree: string): Json => memory.get(tree)![0]!;
    const nodeOptions = first('this tree')['nodeOptions'] as string;
    const mallocEnv = (tree: string): string =>
      Object.entries((first(tree)['mallocEnv'] ?? {}) as Record<string, string>)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ') || 'none';
    const malloc = trees.map((t) => `${t.name}: ${mallocEnv(t.name)}`).join(', ');
    const flags = values['memory-node-flags']
      ? `, node ${values['memory-node-flags']} (--memory-node-flags)`
      : '';
    const ran = trees.map((t) => `${t.name}: ${first(t.name)['entry'] as string}`).join(', ');
    table(
      `Memory: the real \`sigward webhook\` (${ran}; NODE_OPTIONS="${nodeOptions}": the chart's nodeOptions${flags}; the chart's mallocEnv, ${malloc}), ${runs === 1 ? 'one run per tree' : `medians of ${runs} runs per tree${base === undefined ? '' : ', alternated'}`}: ` +
        `${values.verifications} cold verifications, 16 reviews at once, then refusals up to 100k cached verdicts; ` +
        `each figure after ${SETTLE_SECONDS} s idle (the webhook's own idle collection, no forced GC)`,
      ['case', ...head('value')],
      [
        ['cold verifications', ...mcols('coldVerifications')],
        ['cold verifications/s', ...mcols('coldPerSecond')],
        ['webhook CPU ms per cold verification', ...mcols('coldCpuMsPerVerification', 2)],
        ['webhook CPU ms per fill review (100 refusals)', ...mcols('fillCpuMsPerReview', 1)],
        ['start: spawn to listening ms', ...mcols('startMs')],
        ['verdicts cached at the end', ...mcols('verdicts')],
        ['RSS at start MiB', ...mcols('start.rssMiB')],
        ['RSS after the cold verifications MiB', ...mcols('afterCold.rssMiB')],
        ['  peak RSS during them MiB', ...mcols('afterCold.peakMiB')],
        ['  anonymous / mapped files MiB', ...mcols2('afterCold.anonMiB', 'afterCold.fileMiB')],
        ['  heap used / committed MiB', ...mcols2('afterCold.heap.usedMiB', 'afterCold.heap.committedMiB')],
        [
          '  malloc main / thread arenas MiB',
          ...mcols2('afterCold.anonymous.brkHeapMiB', 'afterCold.anonymous.threadArenasMiB'),
        ],
        ['RSS with 100k verdicts cached MiB', ...mcols('full.rssMiB')],
        ['  peak RSS of the whole run MiB', ...mcols('full.peakMiB')],
        ['  anonymous / mapped files MiB', ...mcols2('full.anonMiB', 'full.fileMiB')],
        ['  heap used / committed MiB', ...mcols2('full.heap.usedMiB', 'full.heap.committedMiB')],
        [
          '  malloc main / thread arenas MiB',
          ...mcols2('full.anonymous.brkHeapMiB', 'full.anonymous.threadArenasMiB'),
        ],
        ['  external (Buffers, native) MiB', ...mcols('full.heap.externalMiB')],
        ['bytes per cached allow, heap + ArrayBuffers (Decider alone)', ...mcols('allowBytes')],
        ['bytes per cached refusal, heap + ArrayBuffers (Decider alone)', ...mcols('refusalBytes')],
        ['bytes per entry of the verdict cache alone (100k sha256 keys)', ...mcols('cacheBytes')],
      ],
    );
    for (const tree of trees)
      for (const run of memory.get(tree.name)!)
        console.log(
          `RSS MiB after each policy generation (${tree.name}): ${(run['rssPerGenerationMiB'] as number[]).map((x) => x.toFixed(0)).join(' ')}; ` +
            `after the cold verifications / with 100k verdicts ${f(run['afterCold'].rssMiB, 0)} / ${f(run['full'].rssMiB, 0)}`,
        );
  }
}

type Cols = (pick: (r: Json) => number, digits?: number) => string[];
type Table = (title: string, header: string[], rows: string[][]) => void;

function speed(head: (what: string) => string[], cols: Cols, table: Table): void {
  const cases = (results.get('this tree')![0]!.verify as Json[]).map((c) => c.name as string);
  table(
    'Cold verification of a new digest (verifyImage, warm connections, loopback registries)',
    ['case', ...head('p50 ms'), ...head('CPU ms'), ...head('main-thread CPU ms'), ...head('requests')],
    cases.map((name, i) => [
      name,
      ...cols((r) => r.verify[i].wallMs),
      ...cols((r) => r.verify[i].cpuMs),
      ...cols((r) => r.verify[i].mainThreadCpuMs),
      ...cols((r) => r.verify[i].requests, 1),
    ]),
  );
  table(
    'The registry alone: the same requests in the same rounds by a plain undici client (no parsing, no ' +
      "verification), interleaved with the verifications above; sigward's own = p50 wall - registry alone; " +
      'the plain client CPU is what those requests cost a client that does nothing with the answers',
    [
      'case',
      'rounds',
      ...head('registry alone p50 ms'),
      ...head("sigward's own ms"),
      ...head('plain client CPU ms'),
    ],
    cases.map((name, i) => [
      name,
      String(results.get('this tree')![0]!.verify[i].rounds ?? '-'),
      ...cols((r) => r.verify[i].registryAloneMs),
      ...cols((r) => r.verify[i].wallMs - r.verify[i].registryAloneMs),
      ...cols((r) => r.verify[i].registryAloneCpuMs),
    ]),
  );
  table(
    "The floor on this machine: one verification's node:crypto operations (signature checks, hashes, " +
      'certificate and key decodings), each timed alone on the same inputs, plus what its requests cost ' +
      "the plain client above; above the floor = CPU - floor, sigward's and the libraries' own code",
    ['case', ...head('crypto ms'), ...head('floor ms'), ...head('CPU ms'), ...head('above the floor ms')],
    cases.map((name, i) => [
      name,
      ...cols((r) => r.verify[i].cryptoFloorMs),
      ...cols((r) => r.verify[i].cryptoFloorMs + r.verify[i].registryAloneCpuMs),
      ...cols((r) => r.verify[i].cpuMs),
      ...cols((r) => r.verify[i].cpuMs - r.verify[i].cryptoFloorMs - r.verify[i].registryAloneCpuMs),
    ]),
  );
  if (values['verify-only'] === true) return;
  table(
    'Cold reviews through the engine (empty verdict cache: a new policy generation per review)',
    ['case', ...head('value')],
    [
      ['1 at a time: p50 ms', ...cols((r) => r.cold.p50Ms)],
      ['1 at a time: CPU ms per review', ...cols((r) => r.cold.cpuMsPerReview)],
      ['1 at a time: main-thread CPU ms per review', ...cols((r) => r.cold.mainThreadCpuMsPerReview)],
      ['16 at once: reviews/s', ...cols((r) => r.cold.concurrent16.rps, 0)],
      ['16 at once: p50 ms', ...cols((r) => r.cold.concurrent16.p50Ms)],
      ['16 at once: CPU ms per review', ...cols((r) => r.cold.concurrent16.cpuMsPerReview)],
      ['16 at once: event-loop lag p99 ms', ...cols((r) => r.cold.concurrent16.lagP99)],
    ],
  );
  const warmRows: string[][] = [];
  for (const [i, c] of [1, 16, 64].entries()) {
    warmRows.push([`${c} conn: bare fastify req/s`, ...cols((r) => r.warm[i].bare.rps, 0)]);
    warmRows.push([`${c} conn: sigward req/s`, ...cols((r) => r.warm[i].sigward.rps, 0)]);
    warmRows.push([`${c} conn: sigward / bare`, ...cols((r) => r.warm[i].ratio)]);
    warmRows.push([`${c} conn: bare server CPU µs/req`, ...cols((r) => r.warm[i].bare.serverCpuUs, 0)]);
    warmRows.push([`${c} conn: sigward server CPU µs/req`, ...cols((r) => r.warm[i].sigward.serverCpuUs, 0)]);
    warmRows.push([`${c} conn: bare GC µs/req`, ...cols((r) => r.warm[i].bare.gcUs ?? NaN, 1)]);
    warmRows.push([`${c} conn: sigward GC µs/req`, ...cols((r) => r.warm[i].sigward.gcUs ?? NaN, 1)]);
    warmRows.push([
      `${c} conn: bare / sigward CPU per req`,
      ...cols((r) => r.warm[i].cpuRatio ?? r.warm[i].bare.serverCpuUs / r.warm[i].sigward.serverCpuUs),
    ]);
    warmRows.push([`${c} conn: client p50 ms`, ...cols((r) => r.warm[i].sigward.p50)]);
    warmRows.push([`${c} conn: client p99 ms`, ...cols((r) => r.warm[i].sigward.p99 ?? NaN)]);
    warmRows.push([`${c} conn: bare client p99 ms`, ...cols((r) => r.warm[i].bare.p99 ?? NaN)]);
    warmRows.push([`${c} conn: server-side p50 ms`, ...cols((r) => r.warm[i].serverP50, 3)]);
    warmRows.push([`${c} conn: server-side p99 ms`, ...cols((r) => r.warm[i].serverP99, 3)]);
    warmRows.push([`${c} conn: bare server-side p99 ms`, ...cols((r) => r.warm[i].bare.serverP99, 3)]);
    // bench/probe.ts: to 'finish' (above) and to the response's bytes handed to the kernel (these).
    warmRows.push([`${c} conn: to written p50 ms`, ...cols((r) => r.warm[i].sigward.writtenP50 ?? NaN, 3)]);
    warmRows.push([`${c} conn: to written p99 ms`, ...cols((r) => r.warm[i].sigward.writtenP99 ?? NaN, 3)]);
    warmRows.push([`${c} conn: bare to written p99 ms`, ...cols((r) => r.warm[i].bare.writtenP99 ?? NaN, 3)]);
    warmRows.push([
      `${c} conn: responses written only at finish, % (the larger of the two servers)`,
      ...cols(
        (r) =>
          100 * Math.max(r.warm[i].sigward.writtenAtFinish ?? NaN, r.warm[i].bare.writtenAtFinish ?? NaN),
        1,
      ),
    ]);
    warmRows.push([`${c} conn: event-loop lag p99 ms`, ...cols((r) => r.warm[i].lagP99)]);
    warmRows.push([`${c} conn: bare event-loop lag p99 ms`, ...cols((r) => r.warm[i].bare.lagP99)]);
  }
  warmRows.push(['in-process (inject): bare fastify CPU µs/req', ...cols((r) => r.inject?.bareUs ?? NaN, 1)]);
  warmRows.push(['in-process (inject): sigward CPU µs/req', ...cols((r) => r.inject?.sigwardUs ?? NaN, 1)]);
  warmRows.push([
    'in-process (inject): sigward over bare µs/req',
    ...cols((r) => (r.inject === undefined ? NaN : r.inject.sigwardUs - r.inject.bareUs), 1),
  ]);
  table(
    'Warm /validate (cache hit): the `sigward webhook` process vs a bare fastify HTTPS process answering the same review (bench/bare-server.ts), HTTPS keep-alive, load from another process, medians of alternated pairs',
    ['case', ...head('value')],
    warmRows,
  );
}
