// Loaded with `node --import` into a `sigward webhook` under `npm run bench:policy-controller`
// (`--node-args="--import=./bench/promoted-probe.ts"`): what the process PROMOTES to the old generation,
// the objects that outlived a minor collection (V8's sampling heap profiler keeping objects freed by
// mark-compacts but not those freed by scavenges), between PROMOTED_START_MS and PROMOTED_STOP_MS after
// start (the bench's cold rounds, after its warm-up), per admission request answered in that window.
// Promoted bytes are what make mark-compacts: each one marks the whole live heap. Writes the top
// allocating functions to stderr (the webhook's log) and the .heapprofile to $PROMOTED_DIR when set.
// PROMOTED_START_AFTER / PROMOTED_STOP_AFTER: the window by responses instead (sampling starts after the
// Nth response and stops after the Mth, counted from start), e.g. 320 and 1300 for
// `--peer none --rounds 1 --warmup 300 --cold 0 --cold16 1000 --warm 0`: the 16-connection round.
import diagnostics from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { PerformanceObserver, constants } from 'node:perf_hooks';

interface ProfileNode {
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
  readonly selfSize: number;
  readonly children: readonly ProfileNode[];
}

const startMs = Number(process.env.PROMOTED_START_MS ?? 6000);
const stopMs = Number(process.env.PROMOTED_STOP_MS ?? 14000);
const session = new Session();
session.connect();
const startAfter = Number(process.env.PROMOTED_START_AFTER ?? NaN);
const stopAfter = Number(process.env.PROMOTED_STOP_AFTER ?? NaN);
let requests = 0;
let answered = 0;
let sampling = false;
diagnostics.subscribe('http.server.response.finish', () => {
  answered++;
  if (sampling) requests++;
  if (answered === startAfter) start();
  if (answered === stopAfter) stop();
});
const gcs = { minor: 0, major: 0 };
new PerformanceObserver((list) => {
  if (!sampling) return;
  for (const entry of list.getEntries()) {
    const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MINOR) gcs.minor++;
    else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) gcs.major++;
  }
}).observe({ entryTypes: ['gc'] });

const start = (): void =>
  void (async () => {
    await session.post('HeapProfiler.enable');
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: 4096,
      includeObjectsCollectedByMajorGC: true,
      // PROMOTED_ALL=1: every allocation instead (what the window allocated, scavenged or not).
      includeObjectsCollectedByMinorGC: process.env.PROMOTED_ALL === '1',
    });
    sampling = true;
  })();

const stop = (): void =>
  void (async () => {
    sampling = false;
    const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as {
      profile: { head: ProfileNode };
    };
    const bySite = new Map<string, number>();
    let total = 0;
    const walk = (node: ProfileNode, stack: string): void => {
      const { functionName, url, lineNumber } = node.callFrame;
      const here = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(node_modules|src)\//, '$1/')}:${lineNumber + 1}`;
      total += node.selfSize;
      if (node.selfSize > 0) {
        const key = `${here} < ${stack}`;
        bySite.set(key, (bySite.get(key) ?? 0) + node.selfSize);
      }
      for (const child of node.children)
        walk(
          child,
          `${here.split(' ')[0]}${stack === '' ? '' : ` < ${stack.split(' < ').slice(0, 4).join(' < ')}`}`,
        );
    };
    walk(profile.head, '');
    const per = (bytes: number): string => `${(bytes / Math.max(1, requests) / 1024).toFixed(2)} KiB`;
    const lines = [...bySite.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 40)
      .map(([site, bytes]) => `  ${per(bytes)} ${site}`);
    process.stderr.write(
      `promoted-probe: ${requests} requests, ${gcs.minor} scavenges, ${gcs.major} mark-compacts, ${process.env.PROMOTED_ALL === '1' ? 'allocated' : 'promoted'} ${per(total)} per request\n${lines.join('\n')}\n`,
    );
    const dir = process.env.PROMOTED_DIR;
    if (dir !== undefined)
      writeFileSync(join(dir, `promoted-${process.pid}.heapprofile`), JSON.stringify(profile));
  })();

if (Number.isNaN(startAfter)) {
  setTimeout(start, startMs).unref();
  setTimeout(stop, stopMs).unref();
}
