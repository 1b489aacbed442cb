// Marks each call of the `gc` extension (the webhook's idle collection) in the process's stderr, so
// V8's traces in the same log (--trace-deopt, --trace-opt, --trace-gc) can be read as before and
// after it. Loaded into the webhook by the bench:
//   npm run bench:policy-controller -- --peer none --baseline . --keep-logs \
//     --node-args="--import=$PWD/bench/gc-marker.ts --trace-deopt --trace-opt" \
//     --baseline-node-args="--import=$PWD/bench/gc-marker.ts --trace-deopt --trace-opt --no-expose-gc"
// (docs/performance.md "Eleventh session").
const gc = (globalThis as { gc?: unknown }).gc;
if (typeof gc === 'function') {
  const collect = gc as (options: unknown) => unknown;
  const mark = (what: string): void => void process.stderr.write(`=== IDLE-GC ${what} ${Date.now()}\n`);
  (globalThis as { gc?: unknown }).gc = (options: unknown) => {
    mark('start');
    const result = collect(options);
    mark('end');
    return result;
  };
}
