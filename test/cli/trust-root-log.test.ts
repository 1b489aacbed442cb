// The trust-root refresh log: one line per outcome with the root's name, version and source; a TUF
// refresh always at info, a per-minute check of an unchanged file/ConfigMap/inline root at debug only,
// a new version or the end of a failure at info again, a failure at warn with its code.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { trustRootRefreshLog } from '../../src/cli/trust-root-log.ts';
import type { RootState } from '../../src/cli/trust-root-log.ts';
import { SigwardError } from '../../src/errors.ts';
import { createLogger } from '../../src/telemetry/logger.ts';

function capture() {
  const records: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') records.push(JSON.parse(line));
      done();
    },
  });
  return { records, logger: createLogger({ level: 'debug', destination: sink }) };
}

const v1 = `sha256:${'1'.repeat(64)}`;
const v2 = `sha256:${'2'.repeat(64)}`;

test('each refresh is one line; unchanged per-minute checks drop to debug, TUF refreshes never do', () => {
  const { records, logger } = capture();
  const states = new Map<string, RootState>([
    ['mirror', { version: v1, source: 'tuf:https://tuf.example' }],
    ['cm-root', { version: v1, source: 'configmap:sigward/root#trusted_root.json' }],
  ]);
  const log = trustRootRefreshLog(logger, (name) => states.get(name));
  const line = () => {
    const r = records.at(-1)!;
    return [r['level'], r['msg'], r['trustRoot'], r['version'], r['source'], r['reason']];
  };

  log('mirror', undefined);
  log('mirror', undefined);
  assert.deepEqual(
    records.map((r) => r['level']),
    [30, 30],
    'every TUF refresh at info',
  );
  assert.deepEqual(line(), [30, 'trust root refreshed', 'mirror', v1, 'tuf:https://tuf.example', undefined]);

  log('cm-root', undefined);
  assert.equal(line()[0], 30, 'first load: info');
  log('cm-root', undefined);
  assert.equal(line()[0], 20, 'the same bytes a minute later: debug');
  states.set('cm-root', { version: v2, source: 'configmap:sigward/root#trusted_root.json' });
  log('cm-root', undefined);
  assert.deepEqual(line().slice(0, 4), [30, 'trust root refreshed', 'cm-root', v2], 'a new version: info');

  log(
    'cm-root',
    new SigwardError('KUBE_CONFIGMAP_KEY_MISSING', 'the ConfigMap sigward/root has no key trusted_root.json'),
  );
  assert.deepEqual(line(), [
    40,
    'trust root refresh failed; keeping the last good root',
    'cm-root',
    v2,
    'configmap:sigward/root#trusted_root.json',
    'KUBE_CONFIGMAP_KEY_MISSING',
  ]);
  assert.match(String(records.at(-1)!['err']), /has no key trusted_root\.json/);
  log('cm-root', undefined);
  assert.equal(line()[0], 30, 'recovered: info, even with the same version');
  assert.equal(records.length, 7, 'one line per outcome');
});

test('a root that never loaded says version none', () => {
  const { records, logger } = capture();
  trustRootRefreshLog(logger, () => undefined)(
    'unreachable',
    new SigwardError('SIGSTORE_TRUST_ROOT_UNAVAILABLE', 'down'),
  );
  assert.equal(records[0]!['version'], 'none');
  assert.equal(records[0]!['source'], 'none');
});
