// Loaded with `node --import` into a server process by bench/profile-warm.ts (TAIL=1), to see what
// makes the tail of the server-side time (request start → response finish, as bench/probe.ts measures
// it). Over the IPC channel: 'tail-start' starts a window, 'tail-stop' ends it and answers with the
// distribution and, for the requests at or above the window's p99, what they overlapped: garbage
// collections (perf_hooks' gc entries), writes of log batches to stdout (fs.write on fd 1, sonic-boom's
// async write: when issued, how many bytes, when their completion ran), how many requests were in
// flight when each started, and how the finishes bunch (those within 30 µs of each other ran in one
// turn of the event loop). HOOKS=1 also counts the async resources made per request, by type (timers,
// immediates, promises, fs and TLS write requests); async_hooks slow the server, so only with HOOKS.
// TAIL_PROFILE_DIR=DIR: a CPU profile (100 µs sampling) of each window, written to DIR.
import { createHook } from 'node:async_hooks';
import diagnostics from 'node:diagnostics_channel';
import fs from 'node:fs';
import http from 'node:http';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { PerformanceObserver, constants, performance } from 'node:perf_hooks';
import v8 from 'node:v8';

const MAX = 1 << 20;
const starts = new Float64Array(MAX);
const finishes = new Float64Array(MAX);
const inflightAtStart = new Uint16Array(MAX);
/** 1 when the request was the first on its connection (a new TLS connection: its handshake just ran). */
const firstOnSocket = new Uint8Array(MAX);
const socketsSeen = new WeakSet<object>();
// Phases (PHASES=1): fastify's handler start (its tracing channel), and ServerResponse.end called /
// returned (serializing is before it; the TLS write inside it; the finish after).
const handlerAt = new Float64Array(MAX);
const endCalled = new Float64Array(MAX);
const endReturned = new Float64Array(MAX);
let count = 0;
let inflight = 0;
let recording = false;
const index = new WeakMap<object, number>();

diagnostics.subscribe('http.server.request.start', (message) => {
  inflight++;
  if (!recording || count >= MAX) return;
  const i = count++;
  starts[i] = performance.now();
  finishes[i] = NaN;
  inflightAtStart[i] = inflight;
  const socket = (message as { socket?: object }).socket;
  firstOnSocket[i] = socket !== undefined && !socketsSeen.has(socket) ? 1 : 0;
  if (socket !== undefined) socketsSeen.add(socket);
  handlerAt[i] = endCalled[i] = endReturned[i] = NaN;
  index.set((message as { request: object }).request, i);
});
diagnostics.subscribe('http.server.response.finish', (message) => {
  inflight--;
  const i = index.get((message as { request: object }).request);
  if (i !== undefined) finishes[i] = performance.now();
});

if (process.env['PHASES'] !== undefined) {
  diagnostics.tracingChannel('fastify.request.handler').start.subscribe((store) => {
    const raw = (store as { request?: { raw?: object } }).request?.raw;
    const i = raw === undefined ? undefined : index.get(raw);
    if (i !== undefined) handlerAt[i] = performance.now();
  });
  const end = http.ServerResponse.prototype.end;
  http.ServerResponse.prototype.end = function (this: http.ServerResponse, ...args: unknown[]) {
    const i = index.get(this.req);
    if (i !== undefined) endCalled[i] = performance.now();
    const result = (end as (...a: unknown[]) => unknown).apply(this, args);
    if (i !== undefined) endReturned[i] = performance.now();
    return result;
  } as typeof end;
}

interface Span {
  readonly start: number;
  readonly end: number;
  readonly what: string;
  readonly bytes?: number;
}
const gcs: Span[] = [];
let windowStart = 0;
let windowEnd = Infinity;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (entry.startTime < windowStart || entry.startTime > windowEnd) continue;
    const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
    const what =
      kind === constants.NODE_PERFORMANCE_GC_MINOR
        ? 'scavenge'
        : kind === constants.NODE_PERFORMANCE_GC_MAJOR
          ? 'mark-compact'
          : kind === constants.NODE_PERFORMANCE_GC_INCREMENTAL
            ? 'incremental'
            : 'other-gc';
    gcs.push({ start: entry.startTime, end: entry.startTime + entry.duration, what });
  }
}).observe({ entryTypes: ['gc'] });

// sonic-boom calls `fs.write` through the module object at each write, so a wrapper set here sees them.
const writes: Span[] = [];
const original = fs.write;
(fs as { write: unknown }).write = function write(fd: number, buffer: Buffer, ...rest: unknown[]) {
  if (!recording || fd !== 1) return (original as (...a: unknown[]) => unknown)(fd, buffer, ...rest);
  const callback = rest.pop() as (...a: unknown[]) => void;
  const issued = performance.now();
  const bytes = typeof buffer === 'string' ? Buffer.byteLength(buffer) : buffer.length;
  const call = original as (...a: unknown[]) => unknown;
  const result = call(fd, buffer, ...rest, (...args: unknown[]) => {
    const done = performance.now();
    callback(...args);
    writes.push({ start: issued, end: done, what: 'stdout write', bytes });
    completions.push({ start: done, end: performance.now(), what: 'write completion' });
  });
  issueCost.push(performance.now() - issued);
  return result;
};
const completions: Span[] = [];
const issueCost: number[] = [];

const types = new Map<string, number>();
if (process.env['HOOKS'] !== undefined)
  createHook({
    init(_id, type) {
      if (recording) types.set(type, (types.get(type) ?? 0) + 1);
    },
  }).enable();

// TAIL_PROFILE_DIR=DIR: a CPU profile of each window (steady state only), written there.
const profileDir = process.env['TAIL_PROFILE_DIR'];
const session = profileDir === undefined ? undefined : new Session();
session?.connect();
let windowNumber = 0;

let cpu = process.cpuUsage();
let elu = performance.eventLoopUtilization();

const pct = (sorted: ArrayLike<number>, p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
const round = (x: number, digits = 3): number => Number(x.toFixed(digits));
const overlaps = (s: Span, a: number, b: number): boolean => s.start < b && s.end > a;

/** Mean count of requests that started after this one's end() returned and before its finish. */
function meanStartedMeanwhile(of: readonly number[]): number {
  const order = Float64Array.from({ length: count }, (_, i) => starts[i]!).sort();
  let total = 0;
  for (const i of of) {
    const a = endReturned[i]!;
    const b = finishes[i]!;
    let k = 0;
    for (const s of order) if (s > a && s < b) k++;
    total += k;
  }
  return Math.round((total / Math.max(1, of.length)) * 100) / 100;
}

function report(used: NodeJS.CpuUsage, loop: { utilization: number }): object {
  const n = count;
  const times = new Float64Array(n);
  for (let i = 0; i < n; i++) times[i] = finishes[i]! - starts[i]!;
  const sorted = Float64Array.from(times).sort();
  const p99 = pct(sorted, 0.99);
  const slow: number[] = [];
  for (let i = 0; i < n; i++) if (times[i]! >= p99) slow.push(i);
  const share = (of: number[], test: (i: number) => boolean): number =>
    round(of.filter(test).length / Math.max(1, of.length), 3);
  const all = Array.from({ length: n }, (_, i) => i);
  const scavenges = gcs.filter((g) => g.what === 'scavenge');
  const inGc = (i: number) => gcs.some((g) => overlaps(g, starts[i]!, finishes[i]!));
  const gcWithin = (i: number) =>
    gcs.reduce((sum, g) => sum + (overlaps(g, starts[i]!, finishes[i]!) ? g.end - g.start : 0), 0);
  const writeIssued = (i: number) => writes.some((w) => w.start >= starts[i]! && w.start <= finishes[i]!);
  const completionRan = (i: number) =>
    completions.some((c) => c.start >= starts[i]! && c.start <= finishes[i]!);
  const mean = (of: number[], f: (i: number) => number): number =>
    round(of.reduce((s, i) => s + f(i), 0) / Math.max(1, of.length), 3);
  // Finishes within 30 µs of the previous one: one turn of the event loop answered them together.
  const order = all.filter((i) => !Number.isNaN(finishes[i]!)).sort((a, b) => finishes[a]! - finishes[b]!);
  const turns: number[] = [];
  let size = 0;
  for (let k = 0; k < order.length; k++) {
    if (k > 0 && finishes[order[k]!]! - finishes[order[k - 1]!]! > 0.03) {
      turns.push(size);
      size = 0;
    }
    size++;
  }
  if (size > 0) turns.push(size);
  const turnSizes = Float64Array.from(turns).sort();
  // Turns by the order of events: requests read (their starts) until the first finish, then the
  // finishes of that turn's check phase; the next start after a finish opens the next turn. A turn of
  // 16 (every connection at once) is what makes p99 at 16 connections: its first start → last finish,
  // and within it the time per request read (start → next start) and per finish (finish → next).
  const events: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(finishes[i]!)) continue;
    events.push([starts[i]!, 0], [finishes[i]!, 1]);
  }
  events.sort((a, b) => a[0] - b[0]);
  const fullTurns: number[] = [];
  const readGaps: number[] = [];
  const finishGaps: number[] = [];
  let inFullTurns = 0;
  let alone = 0;
  let turn: [number, number][] = [];
  const closeTurn = (): void => {
    const finished = turn.filter((e) => e[1] === 1).length;
    if (finished === 1) alone++;
    if (finished === 16 && turn.length === 32) {
      inFullTurns += 16;
      fullTurns.push(turn[31]![0] - turn[0]![0]);
      for (let k = 1; k < 16; k++) readGaps.push(turn[k]![0] - turn[k - 1]![0]);
      for (let k = 17; k < 32; k++) finishGaps.push(turn[k]![0] - turn[k - 1]![0]);
    }
    turn = [];
  };
  for (const event of events) {
    if (event[1] === 0 && turn.length > 0 && turn[turn.length - 1]![1] === 1) closeTurn();
    turn.push(event);
  }
  closeTurn();
  const fullTurnMs = Float64Array.from(fullTurns).sort();
  const usP50 = (xs: number[]): number => round(pct(Float64Array.from(xs).sort(), 0.5) * 1000, 1);
  const gcMs = gcs.reduce((s, g) => s + g.end - g.start, 0);
  const scavengeMs = scavenges.map((g) => g.end - g.start).sort((a, b) => a - b);
  return {
    requests: n,
    cpuUsPerRequest: round((used.user + used.system) / n, 1),
    eventLoopUtilization: round(loop.utilization, 3),
    ms: {
      p50: round(pct(sorted, 0.5)),
      p90: round(pct(sorted, 0.9)),
      p99: round(p99),
      p999: round(pct(sorted, 0.999)),
      max: round(sorted[n - 1] ?? NaN),
    },
    gc: {
      // V8 sizes the young generation by what survives and shrinks it when allocation is slow (idle).
      newSpaceKiB: newSpaceKiB(),
      newSpaceAtStartKiB,
      count: gcs.length,
      scavenges: scavenges.length,
      perTenThousand: round((gcs.length * 10_000) / n, 1),
      usPerRequest: round((gcMs * 1000) / n, 2),
      scavengeMsP50: round(pct(scavengeMs, 0.5)),
      scavengeMsMax: round(scavengeMs[scavengeMs.length - 1] ?? NaN),
    },
    stdout: {
      writes: writes.length,
      perTenThousand: round((writes.length * 10_000) / n, 1),
      bytesP50: pct(
        writes.map((w) => w.bytes!).sort((a, b) => a - b),
        0.5,
      ),
      issueUsP50: round(
        pct(
          issueCost.sort((a, b) => a - b),
          0.5,
        ) * 1000,
        1,
      ),
      completionUsP50: round(
        pct(
          completions.map((c) => (c.end - c.start) * 1000).sort((a, b) => a - b),
          0.5,
        ),
        1,
      ),
    },
    turns: {
      count: turns.length,
      sizeP50: pct(turnSizes, 0.5),
      sizeP99: pct(turnSizes, 0.99),
      sizeMax: turnSizes[turnSizes.length - 1],
      // Share of the requests answered in a turn of 16, and alone in theirs.
      inFullTurns: round(inFullTurns / Math.max(1, n), 3),
      alone: round(alone / Math.max(1, n), 3),
      full: fullTurns.length,
      fullMsP50: round(pct(fullTurnMs, 0.5)),
      fullMsP10: round(pct(fullTurnMs, 0.1)),
      fullReadUsP50: usP50(readGaps),
      fullFinishUsP50: usP50(finishGaps),
    },
    all: {
      firstOnConnection: share(all, (i) => firstOnSocket[i] === 1),
      inGc: share(all, inGc),
      writeIssued: share(all, writeIssued),
      completionRan: share(all, completionRan),
      inflightAtStart: mean(all, (i) => inflightAtStart[i]!),
    },
    atOrAboveP99: {
      requests: slow.length,
      // The first request of a new connection, or one started in the window's first 10% of requests
      // (while the load client's connections were being opened: TLS handshakes in the same turns).
      firstOnConnection: share(slow, (i) => firstOnSocket[i] === 1),
      inFirstTenth: share(slow, (i) => i < n / 10),
      inGc: share(slow, inGc),
      gcMsWithin: mean(slow, gcWithin),
      writeIssued: share(slow, writeIssued),
      completionRan: share(slow, completionRan),
      inflightAtStart: mean(slow, (i) => inflightAtStart[i]!),
      msWithoutGc: round(pct(Float64Array.from(slow.map((i) => times[i]! - gcWithin(i))).sort(), 0.5)),
    },
    ...(Number.isNaN(handlerAt[0]!) || n === 0
      ? {}
      : {
          phasesUs: Object.fromEntries(
            (
              [
                ['all', all],
                ['slow', slow],
              ] as const
            ).map(([name, of]) => {
              const p50 = (f: (i: number) => number): number =>
                round(pct(Float64Array.from(of.map(f)).sort(), 0.5) * 1000, 1);
              return [
                name,
                {
                  toHandler: p50((i) => handlerAt[i]! - starts[i]!),
                  handlerToEnd: p50((i) => endCalled[i]! - handlerAt[i]!),
                  inEnd: p50((i) => endReturned[i]! - endCalled[i]!),
                  endToFinish: p50((i) => finishes[i]! - endReturned[i]!),
                  startedMeanwhile: meanStartedMeanwhile(of),
                },
              ];
            }),
          ),
        }),
    ...(types.size === 0
      ? {}
      : {
          asyncResourcesPerRequest: Object.fromEntries(
            [...types].sort((a, b) => b[1] - a[1]).map(([t, c]) => [t, round(c / n, 2)]),
          ),
        }),
  };
}

const newSpaceKiB = (): number =>
  Math.round(
    (v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0) / 1024,
  );
let newSpaceAtStartKiB = 0;

/** Starts a window: everything counted from now. */
function startWindow(): void {
  newSpaceAtStartKiB = newSpaceKiB();
  count = 0;
  gcs.length = 0;
  writes.length = 0;
  completions.length = 0;
  issueCost.length = 0;
  types.clear();
  cpu = process.cpuUsage();
  elu = performance.eventLoopUtilization();
  windowStart = performance.now();
  windowEnd = Infinity;
  recording = true;
  process.send!({ started: true });
}

if (process.send !== undefined) {
  process.on('message', (message: unknown) => {
    if (message === 'tail-start') {
      const profiling =
        session === undefined
          ? Promise.resolve()
          : session
              .post('Profiler.enable')
              .then(() => session.post('Profiler.setSamplingInterval', { interval: 100 }))
              .then(() => session.post('Profiler.start'));
      void profiling.then(startWindow);
    } else if (message === 'tail-stop') {
      recording = false;
      windowEnd = performance.now();
      const used = process.cpuUsage(cpu);
      const loop = performance.eventLoopUtilization(elu);
      const profiled =
        session === undefined
          ? Promise.resolve()
          : session.post('Profiler.stop').then(({ profile }) => {
              const name = `window-${++windowNumber}-${process.pid}.cpuprofile`;
              fs.writeFileSync(join(profileDir!, name), JSON.stringify(profile));
            });
      // gc entries arrive after the collection; one more turn lets the last ones in.
      void profiled.then(() => setTimeout(() => process.send!(report(used, loop)), 20));
    }
  });
  process.channel?.unref();
}
