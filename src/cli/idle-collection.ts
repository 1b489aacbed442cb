// After a burst of work, once the process has been quiet for a minute, one garbage collection that
// gives memory back to the system. V8 keeps what a burst made it take: old-space pages with room in
// them, freed pages pooled for reuse, a grown young generation; its memory reducer, which would give
// them back, waits for a low allocation rate that an idle Node process never reports (`--trace-memory-
// reducer` says "high alloc" minutes after the last request). V8's only collection that compacts,
// shrinks and empties those pools on request is the `gc` extension's last-resort one, so the webhook
// runs with `--expose-gc` (the chart's nodeOptions, the image's NODE_OPTIONS) and calls it here; without
// the flag this does nothing. With 100,000 verdicts cached: RSS 138 → 115 MiB, ~60–90 ms once after
// a burst (docs/performance.md "Memory, seventh session").
//
// Its price is paid by the next burst: a memory-reducing collection keeps no map alive that only
// optimized code still points at (V8 retains such maps for a few ordinary collections, never in a
// memory-reducing one), and the idle webhook holds no request's objects, so the maps of a review's
// objects die and every optimized function that embeds one is thrown away. `--trace-deopt` in the
// webhook: ~340 Maglev and TurboFan functions per collection ("embedded weak objects cleared"), none
// in ordinary collections; the next burst runs the hot path in lower tiers again and costs 12–15 %
// more CPU per cold review until it has re-tiered (docs/performance.md "Eleventh session"). So the
// webhook does not collect at the first pause: it waits until no review came for QUIET_MS.
import { performance } from 'node:perf_hooks';

/** How often the main thread's CPU time is sampled. */
const CHECK_MS = 2_000;
/** Work (main-thread CPU) since the last collection that makes one worth it: a burst, not a probe or a scrape. */
const MIN_ACTIVE_MS = 1_000;
/**
 * An interval whose main-thread CPU is this little (2 %) is quiet: an idle webhook uses ~0.4 %
 * (timers, the event-loop monitor), a lease renewal, a probe, a scrape or a review now and then
 * little more; a burst of reviews uses most of it.
 */
const IDLE_UTILIZATION = 0.02;
/**
 * How long the loop must have been idle without a break before a collection: longer than the pauses
 * inside one rollout (a Deployment's surge steps wait for the new Pods' readiness, the HPA acts every
 * 15 s, sync waves wait for health), so that a rollout's bursts keep their compiled code and pay the
 * re-tiering once, after the last of them; short beside the time between rollouts, so memory still
 * goes back within about a minute of the last review.
 */
export const QUIET_MS = 60_000;

/**
 * When a collection is due, from the work (main-thread CPU) done per interval: once at least
 * `minActiveMs` of work has been done since the last one, when the process has been quiet for
 * `quietMs` without a busy interval in between.
 */
export class BurstThenQuiet {
  readonly #minActiveMs: number;
  readonly #quietMs: number;
  #activeMs = 0;
  #idleMs = 0;

  constructor({
    minActiveMs = MIN_ACTIVE_MS,
    quietMs = QUIET_MS,
  }: { minActiveMs?: number; quietMs?: number } = {}) {
    this.#minActiveMs = minActiveMs;
    this.#quietMs = quietMs;
  }

  /** One interval: `activeMs` of work in `elapsedMs`. True when a collection is due now. */
  sample(activeMs: number, elapsedMs: number): boolean {
    this.#activeMs += activeMs;
    if (activeMs > elapsedMs * IDLE_UTILIZATION) {
      this.#idleMs = 0;
      return false;
    }
    this.#idleMs += elapsedMs;
    if (this.#activeMs < this.#minActiveMs || this.#idleMs < this.#quietMs) return false;
    this.#activeMs = 0;
    this.#idleMs = 0;
    return true;
  }
}

/**
 * The main thread's CPU time: its work, whatever else runs on the machine. The event loop's
 * utilization counts wall time inside callbacks, which a busy node stretches: an idle webhook on a
 * machine at load 10 showed 3–11 % in some 2 s intervals, 0.4 % of CPU in all of them.
 */
function mainThreadCpuMs(): number {
  const { user, system } = process.threadCpuUsage();
  return (user + system) / 1000;
}

/** The `gc` extension's options (V8's gc-extension.cc): last-resort is a memory-reducing full collection. */
type GcExtension = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

export interface IdleCollection {
  stop(): void;
}

/**
 * Samples the main thread's CPU time every `checkMs` (an unref'd timer: it never keeps the process
 * alive) and collects after each burst once the process has been quiet for `quietMs`; `onCollect`
 * hears how long it took and the RSS before and after.
 * Undefined when node runs without `--expose-gc`.
 */
export function startIdleCollection(
  options: {
    readonly checkMs?: number;
    readonly minActiveMs?: number;
    readonly quietMs?: number;
    readonly onCollect?: (collected: { ms: number; rssBefore: number; rssAfter: number }) => void;
  } = {},
): IdleCollection | undefined {
  const gc = (globalThis as { gc?: unknown }).gc;
  if (typeof gc !== 'function') return undefined;
  const collect = gc as GcExtension;
  const due = new BurstThenQuiet(options);
  let last = { cpuMs: mainThreadCpuMs(), at: performance.now() };
  const timer = setInterval(() => {
    const now = { cpuMs: mainThreadCpuMs(), at: performance.now() };
    const collectNow = due.sample(now.cpuMs - last.cpuMs, now.at - last.at);
    last = now;
    if (!collectNow) return;
    const rssBefore = process.memoryUsage.rss();
    const started = performance.now();
    collect({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    const ms = performance.now() - started;
    // Its own time is not work to collect after.
    last = { cpuMs: mainThreadCpuMs(), at: performance.now() };
    options.onCollect?.({ ms, rssBefore, rssAfter: process.memoryUsage.rss() });
  }, options.checkMs ?? CHECK_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
