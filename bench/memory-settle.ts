// How long the memory bench lets the webhook sit idle before each reading: past the quiet its idle
// collection waits for (src/cli/idle-collection.ts), then 10 s, so a figure is what a Pod holds
// between rollouts. BENCH_SETTLE=SECONDS overrides it.
import { QUIET_MS } from '../src/cli/idle-collection.ts';

export const SETTLE_SECONDS = Number(process.env['BENCH_SETTLE'] ?? QUIET_MS / 1000 + 10);
