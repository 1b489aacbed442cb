// Loaded with `node --import` into a server process under `npm run bench` (the real `sigward webhook`
// and bench/bare-server.ts alike), so both are measured from inside the same way. Over the IPC channel:
// 'reset' starts a window, 'report' answers for it: CPU used (user + system, µs), requests finished,
// server-side time per request (diagnostics_channel: request start → response finish) p50/p99 in ms,
// the event-loop lag p99 in ms, and the time spent in garbage collection (ms).
import diagnostics from 'node:diagnostics_channel';
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';

const times: number[] = [];
const startedAt = new WeakMap<object, number>();
diagnostics.subscribe('http.server.request.start', (message) => {
  startedAt.set((message as { request: object }).request, performance.now());
});
diagnostics.subscribe('http.server.response.finish', (message) => {
  const t = startedAt.get((message as { request: object }).request);
  if (t !== undefined) times.push(performance.now() - t);
});
const lag = monitorEventLoopDelay({ resolution: 5 });
let cpu = process.cpuUsage();
let gcMs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcMs += entry.duration;
}).observe({ entryTypes: ['gc'] });

const pct = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? NaN;
};

if (process.send !== undefined) {
  process.on('message', (message: unknown) => {
    if (message === 'reset') {
      times.length = 0;
      lag.reset();
      lag.enable();
      cpu = process.cpuUsage();
      gcMs = 0;
      process.send!({ reset: true });
    } else if (message === 'report') {
      const used = process.cpuUsage(cpu);
      lag.disable();
      process.send!({
        cpuUs: used.user + used.system,
        requests: times.length,
        p50: pct(times, 0.5),
        p99: pct(times, 0.99),
        lagP99: lag.percentile(99) / 1e6,
        gcMs,
      });
    }
  });
  // The IPC channel must not keep a server alive that was told to stop.
  process.channel?.unref();
}
