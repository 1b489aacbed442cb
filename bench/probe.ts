// Loaded with `node --import` into a server process under `npm run bench` (the real `sigward webhook`
// and bench/bare-server.ts alike), so both are measured from inside the same way. Over the IPC channel:
// 'reset' starts a window, 'report' answers for it: CPU used (user + system, µs), requests finished,
// server-side time per request p50/p99 in ms, twice: to the response's 'finish' and to its bytes
// written, the event-loop lag p99 in ms, and the time spent in garbage collection (ms).
//
// Why two server-side times. A request starts when its headers are parsed ('http.server.request.start').
// Its response is written when `res.end()` returns, if nothing was in flight on the socket before and
// the TCP handle's write queue is empty after: `end()` uncorks the socket, and TLSWrap encrypts the
// bytes and hands them to the kernel synchronously (uv_try_write; strace shows each response's write
// right after its request's read, inside the turn). 'finish' comes later: when that write completed synchronously, Node's
// TLSWrap::EncOut "simulates asynchronous finishing" with SetImmediate (src/crypto/crypto_tls.cc), so
// every response of a turn is reported finished in the turn's check phase, after all the requests the
// turn read. At 16 connections the first review read in a full turn waits there for the 15 after it,
// although its client already has its answer. A response whose bytes were not all handed over at
// `end()` (a full socket, a write still in flight) counts at 'finish' in both.
import diagnostics from 'node:diagnostics_channel';
import { ServerResponse } from 'node:http';
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';

const times: number[] = [];
const writtenTimes: number[] = [];
let writtenAtFinish = 0;
const startedAt = new WeakMap<object, number>();
const writtenAt = new WeakMap<object, number>();
diagnostics.subscribe('http.server.request.start', (message) => {
  startedAt.set((message as { request: object }).request, performance.now());
});
diagnostics.subscribe('http.server.response.finish', (message) => {
  const { request, response } = message as { request: object; response: object };
  const t = startedAt.get(request);
  if (t === undefined) return;
  const finished = performance.now();
  times.push(finished - t);
  const written = writtenAt.get(response);
  if (written === undefined) writtenAtFinish++;
  writtenTimes.push((written ?? finished) - t);
});
/** Bytes queued in the kernel-facing handle: the TCP handle under TLSWrap (`_parent`), or the TCP one. */
type Handle = { writeQueueSize?: number; _parent?: { writeQueueSize?: number } };
const end = ServerResponse.prototype.end;
ServerResponse.prototype.end = function (this: ServerResponse, ...args: unknown[]) {
  // Nothing in flight before: the whole response is this one write, not queued behind another.
  const idle = this.socket !== null && this.socket.writableLength === 0;
  const result = (end as (...a: unknown[]) => unknown).apply(this, args);
  const handle = (this.socket as unknown as { _handle?: Handle } | null)?._handle;
  if (idle && (handle?._parent ?? handle)?.writeQueueSize === 0) writtenAt.set(this, performance.now());
  return result;
} as typeof end;
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
      writtenTimes.length = 0;
      writtenAtFinish = 0;
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
        writtenP50: pct(writtenTimes, 0.5),
        writtenP99: pct(writtenTimes, 0.99),
        writtenAtFinish,
        lagP99: lag.percentile(99) / 1e6,
        gcMs,
      });
    }
  });
  // The IPC channel must not keep a server alive that was told to stop.
  process.channel?.unref();
}
