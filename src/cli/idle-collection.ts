// After a burst of work, once the event loop has been idle for a moment, one garbage collection that
// gives memory back to the system. V8 keeps what a burst made it take: old-space pages with room in
// them, freed pages pooled for reuse, a grown young generation; its memory reducer, which would give
// them back, waits for a low allocation rate that an idle Node process never reports (`--trace-memory-
// reducer` says "high alloc" minutes after the last request). V8's only collection that compacts,
// shrinks and empties those pools on request is the `gc` extension's last-resort one, so the webhook
// runs with `--expose-gc` (the chart's nodeOptions, the image's NODE_OPTIONS) and calls it here; without
// the flag this does nothing. With 100,000 verdicts cached: RSS 138 → 115 MiB, ~60–90 ms once per
// burst (docs/performance.md "Memory, seventh session").
import { performance } from 'node:perf_hooks';

/** How often the event loop's utilization is sampled. */
const CHECK_MS = 2_000;
/** Work since the last collection that makes one worth it: a burst, not a probe or a scrape. */
const MIN_ACTIVE_MS = 1_000;
/** An interval this little busy (1 %) is idle: a review now and then, probes and scrapes. */
const IDLE_UTILIZATION = 0.01;

/**
 * When a collection is due, from the event loop's active time per interval: once at least
 * `minActiveMs` of work has been done since the last one, at the first interval that was idle.
 */
export class BurstThenIdle {
  readonly #minActiveMs: number;
  #activeMs = 0;

  constructor(minActiveMs = MIN_ACTIVE_MS) {
    this.#minActiveMs = minActiveMs;
  }

  /** One interval: the loop was active `activeMs` of `elapsedMs`. True when a collection is due now. */
  sample(activeMs: number, elapsedMs: number): boolean {
    this.#activeMs += activeMs;
    if (activeMs > elapsedMs * IDLE_UTILIZATION || this.#activeMs < this.#minActiveMs) return false;
    this.#activeMs = 0;
    return true;
  }
}

/** The `gc` extension's options (V8's gc-extension.cc): last-resort is a memory-reducing full collection. */
type GcExtension = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

export interface IdleCollection {
  stop(): void;
}

/**
 * Samples the event loop every `checkMs` (an unref'd timer: it never keeps the process alive) and
 * collects after each burst; `onCollect` hears how long it took and the RSS before and after.
 * Undefined when node runs without `--expose-gc`.
 */
export function startIdleCollection(
  options: {
    readonly checkMs?: number;
    readonly minActiveMs?: number;
    readonly onCollect?: (collected: { ms: number; rssBefore: number; rssAfter: number }) => void;
  } = {},
): IdleCollection | undefined {
  const gc = (globalThis as { gc?: unknown }).gc;
  if (typeof gc !== 'function') return undefined;
  const collect = gc as GcExtension;
  const due = new BurstThenIdle(options.minActiveMs);
  let last = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const interval = performance.eventLoopUtilization(now, last);
    last = now;
    if (!due.sample(interval.active, interval.idle + interval.active)) return;
    const rssBefore = process.memoryUsage.rss();
    const started = performance.now();
    collect({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    const ms = performance.now() - started;
    // Its own time is not work to collect after.
    last = performance.eventLoopUtilization();
    options.onCollect?.({ ms, rssBefore, rssAfter: process.memoryUsage.rss() });
  }, options.checkMs ?? CHECK_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
