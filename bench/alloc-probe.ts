// Loaded with `node --import` into a server process by bench/profile-warm.ts (ALLOC=1): V8's sampling
// heap profiler, with the objects the young and old generation collections already freed kept in the
// profile, so its total is what the window ALLOCATED (not what survived). Over the IPC channel:
// 'alloc-start' starts a window, 'alloc-stop' ends it and answers: bytes allocated, requests finished
// (diagnostics_channel), scavenges and mark-compacts (perf_hooks' gc entries), and the functions that
// allocated most (self bytes, with where they are). The .heapprofile (Chrome DevTools' Memory tab reads
// it) is written to $ALLOC_PROFILE_DIR when set.
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

const session = new Session();
session.connect();
let requests = 0;
diagnostics.subscribe('http.server.response.finish', () => void requests++);
let scavenges = 0;
let markCompacts = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenges++;
    else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) markCompacts++;
  }
}).observe({ entryTypes: ['gc'] });

/** Self bytes per function (name + file:line), summed over every call path. */
function bySite(root: ProfileNode): Map<string, number> {
  const sites = new Map<string, number>();
  const walk = (node: ProfileNode): void => {
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.replace(/^.*\/(node_modules|src|bench)\//, '$1/');
    const site = `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
    if (node.selfSize > 0) sites.set(site, (sites.get(site) ?? 0) + node.selfSize);
    for (const child of node.children) walk(child);
  };
  walk(root);
  return sites;
}

if (process.send !== undefined) {
  process.on('message', (message: unknown) => {
    void (async () => {
      if (message === 'alloc-start') {
        await session.post('HeapProfiler.enable');
        await session.post('HeapProfiler.startSampling', {
          samplingInterval: Number(process.env['ALLOC_SAMPLING_BYTES'] ?? 4096),
          includeObjectsCollectedByMajorGC: true,
          includeObjectsCollectedByMinorGC: true,
        });
        requests = 0;
        scavenges = 0;
        markCompacts = 0;
        process.send!({ allocStarted: true });
      } else if (message === 'alloc-stop') {
        const finished = { requests, scavenges, markCompacts };
        const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as {
          profile: { head: ProfileNode };
        };
        const sites = [...bySite(profile.head)].sort((a, b) => b[1] - a[1]);
        const bytes = sites.reduce((n, [, b]) => n + b, 0);
        const dir = process.env['ALLOC_PROFILE_DIR'];
        if (dir !== undefined)
          writeFileSync(join(dir, `alloc-${process.pid}.heapprofile`), JSON.stringify(profile));
        process.send!({
          ...finished,
          bytes,
          top: sites
            .slice(0, Number(process.env['ALLOC_TOP'] ?? 40))
            .map(([site, b]) => ({ site, bytes: b })),
        });
      }
    })();
  });
  process.channel?.unref();
}
