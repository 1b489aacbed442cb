// One deadline for the whole review: a registry that does not answer in time gives the configured
// failure outcome with reason TIMEOUT (deny by default; with errors allowed, admitted and counted as
// fail-open), and so does a registry that is down. Faults are held by the test, never slept on.
import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { getEventListeners, once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { Deadline } from '../../src/deadline.ts';
import { freePort, startDockerRegistry } from '../support/docker-registry.ts';
import type { DockerRegistry } from '../support/docker-registry.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import type { FaultProxy } from '../support/fault-proxy.ts';
import { counterValue } from '../../src/telemetry/metrics.ts';
import {
  clusterPolicy,
  engineUnderTest,
  kubewardenPolicy,
  pemOf,
  podReview,
  pushFixtures,
  responseOf,
} from './harness.ts';
import type { Fixtures } from './harness.ts';
import { turnEnd } from '../support/turn-end.ts';

let registry: DockerRegistry;
let proxy: FaultProxy;
let fx: Fixtures;

before(async () => {
  registry = await startDockerRegistry();
  fx = await pushFixtures(registry.host);
  proxy = await startFaultProxy({ upstream: registry.url });
});
after(async () => {
  await proxy.close();
  await registry.stop();
});

const policy = kubewardenPolicy();

/**
 * The timers of the durations `watched` picks, created from now on, that are still pending: neither
 * fired nor cleared (Node's Timeout marks itself `_destroyed` when either happens). `stop()` ends the watch.
 */
function pendingTimers(watched: (ms: number) => boolean): { pending: () => number[]; stop: () => void } {
  const timers: { _idleTimeout: number; _destroyed: boolean }[] = [];
  const hook = createHook({
    init(_id, type, _trigger, resource) {
      const timer = resource as { _idleTimeout: number; _destroyed: boolean };
      if (type === 'Timeout' && watched(timer._idleTimeout)) timers.push(timer);
    },
  }).enable();
  return {
    pending: () => timers.filter((t) => !t._destroyed).map((t) => t._idleTimeout),
    stop: () => hook.disable(),
  };
}

describe('Deadline', () => {
  test('aborts with a TimeoutError when its time is up', async () => {
    const deadline = new Deadline(5);
    const [event] = (await once(deadline.signal, 'abort')) as [Event];
    assert.equal(event.type, 'abort');
    assert.equal((deadline.signal.reason as DOMException).name, 'TimeoutError');
    assert.equal(deadline.timedOut, true);
    deadline.end();
    // A reason of the caller's choosing (the registry client's words).
    const own = new Deadline(5, undefined, (ms) => new Error(`no answer in ${ms} ms`));
    await once(own.signal, 'abort');
    assert.equal((own.signal.reason as Error).message, 'no answer in 5 ms');
    own.end();
  });

  test("aborts with the caller's reason when the caller aborts first, or already had", () => {
    const caller = new AbortController();
    const deadline = new Deadline(60_000, caller.signal);
    assert.equal(deadline.signal.aborted, false);
    caller.abort(new Error('connection closed'));
    assert.equal((deadline.signal.reason as Error).message, 'connection closed');
    assert.equal(deadline.timedOut, false, 'the caller aborted, the time did not run out');
    deadline.end();
    const late = new Deadline(60_000, caller.signal);
    assert.equal((late.signal.reason as Error).message, 'connection closed');
    late.end();
  });

  test("end() leaves no timer and no listener on the caller's signal behind", () => {
    const timers = pendingTimers((ms) => ms === 54_321);
    const caller = new AbortController();
    const deadline = new Deadline(54_321, caller.signal);
    assert.deepEqual(timers.pending(), [54_321]);
    assert.equal(getEventListeners(caller.signal, 'abort').length, 1);
    deadline.end();
    assert.deepEqual(timers.pending(), []);
    assert.equal(getEventListeners(caller.signal, 'abort').length, 0);
    caller.abort();
    assert.equal(deadline.signal.aborted, false, 'after end() nothing reaches it');
    timers.stop();
  });
});

describe('deadline', () => {
  for (const errors of ['deny', 'audit'] as const) {
    test(`a stalled registry: TIMEOUT within the deadline, outcome ${errors === 'deny' ? 'deny' : 'allow (fail-open counted)'}`, async () => {
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const rule = proxy.addFault({
        path: /\/v2\/signed\/kubewarden\//,
        fault: { kind: 'hold', release: held },
      });
      const e = engineUnderTest([policy], { deadlineMs: 300, evaluation: { unmatched: 'deny', errors } });
      const started = performance.now();
      const arrived = proxy.nextRequest(/\/v2\/signed\/kubewarden\//);
      const result = await e.review(podReview([fx.keylessImage(proxy.host)]));
      const elapsed = performance.now() - started;
      await arrived;
      const response = responseOf(result);
      assert.ok(elapsed < 1500, `answered in ${elapsed} ms`);
      if (errors === 'deny') {
        assert.equal(response.allowed, false);
        assert.match(
          response.status?.message ?? '',
          /no verdict within the review deadline of 300 ms.*\[TIMEOUT\]/,
        );
        assert.equal(result.decision, 'error-deny', 'refused because no verdict came: not a policy denial');
        assert.deepEqual(
          result.decisions?.[0]?.results.map((r) => r.reason),
          ['TIMEOUT'],
        );
      } else {
        assert.equal(response.allowed, true);
        assert.equal(result.decision, 'error-allow');
        assert.equal(await counterValue(e.metrics.failOpen, { reason: 'TIMEOUT' }), 1);
      }
      release();
      rule.remove();
      await e.close();
    });
  }

  test('a registry that is down: the configured outcome, never an allow by accident', async () => {
    const down = `127.0.0.1:${await freePort()}`;
    const image = fx.keylessImage(down);
    const closed = engineUnderTest([policy]);
    const closedResult = await closed.review(podReview([image]));
    assert.equal(closedResult.decision, 'error-deny');
    assert.deepEqual(closedResult.reasons, ['REGISTRY_ERROR']);
    const denied = responseOf(closedResult);
    assert.equal(denied.allowed, false);
    assert.match(denied.status?.message ?? '', /registry failure.*\[REGISTRY_ERROR\]/);
    await closed.close();

    const open = engineUnderTest([policy], { evaluation: { unmatched: 'deny', errors: 'audit' } });
    const body = podReview([image]);
    const mutated = responseOf(await open.review(body, 'mutate'));
    assert.equal(mutated.patch, undefined, 'nothing verified, nothing pinned');
    const result = await open.review(body);
    assert.equal(responseOf(result).allowed, true);
    assert.equal(result.decision, 'error-allow');
    assert.equal(await counterValue(open.metrics.failOpen), 1, 'once per admission, not per webhook call');
    await open.close();
  });

  test("no review deadline, verification cap or tag resolution's timer outlives its work", async () => {
    // Distinct durations, so only the engine's own timers are watched (not undici's or the registry's):
    // the verification cap, and the review deadline (what is left of it when the review starts waiting).
    const timers = pendingTimers((ms) => ms === 24_321 || (ms > 8_000 && ms <= 8_765));
    const e = engineUnderTest(
      [
        policy,
        clusterPolicy(
          'ci',
          ['127.0.0.1:*/apps/**'],
          [{ name: 'ci-key', key: { data: pemOf(fx.signer.publicKey) }, insecureIgnoreTlog: true }],
        ),
      ],
      { deadlineMs: 8_765, verificationCapMs: 24_321 },
    );
    const signed = responseOf(await e.review(podReview([fx.keylessImage(registry.host)])));
    assert.equal(signed.allowed, true, signed.status?.message);
    const tagged = responseOf(await e.review(podReview([fx.keySigned.tagged(registry.host)])));
    assert.equal(tagged.allowed, true, tagged.status?.message);
    assert.deepEqual(timers.pending(), [], 'every deadline cleared when its work ended');
    timers.stop();
    await e.close();
  });

  test('a verification that outlives its review still ends at its own cap, and is not cached', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const rule = proxy.addFault({
      path: /\/v2\/signed\/kubewarden\//,
      fault: { kind: 'hold', release: held },
    });
    // Each verification's outcome as it ends, in order.
    const outcomes: Promise<{ result: string; reason: string }>[] = [];
    const enders: ((labels: { result: string; reason: string }) => void)[] = [];
    for (let i = 0; i < 2; i++) outcomes.push(new Promise((r) => enders.push(r)));
    const e = engineUnderTest(
      [policy],
      { deadlineMs: 50, verificationCapMs: 300 },
      { verification: (labels) => enders.shift()?.(labels) },
    );
    const response = responseOf(await e.review(podReview([fx.keylessImage(proxy.host)])));
    assert.match(response.status?.message ?? '', /\[TIMEOUT\]/);
    // Still held by the registry: only the cap can end the verification.
    assert.deepEqual(await outcomes[0], {
      policy: 'kubewarden',
      authority: 'release-workflow',
      result: 'error',
      reason: 'TIMEOUT',
    });
    release();
    rule.remove();
    // The verification reported its outcome before it returned; a turn later it has settled, so the
    // next review does not join it in the verdict cache's single flight.
    await turnEnd();
    // Not cached: the next review verifies again (and this time the registry answers).
    await e.review(podReview([fx.keylessImage(proxy.host)]));
    assert.equal((await outcomes[1]!).result, 'verified');
    await e.close();
  });

  test('a tag that cannot be resolved in time is a TIMEOUT too', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const rule = proxy.addFault({
      path: /\/v2\/apps\/api\/manifests\/v1/,
      fault: { kind: 'hold', release: held },
    });
    const e = engineUnderTest(
      [
        clusterPolicy(
          'ci',
          ['127.0.0.1:*/apps/**'],
          [{ name: 'ci-key', key: { data: pemOf(fx.signer.publicKey) }, insecureIgnoreTlog: true }],
        ),
      ],
      { deadlineMs: 200 },
    );
    const response = responseOf(await e.review(podReview([fx.keySigned.tagged(proxy.host)])));
    assert.equal(response.allowed, false);
    assert.match(
      response.status?.message ?? '',
      /no verdict within the review deadline of 200 ms.*\[TIMEOUT\]/,
    );
    release();
    rule.remove();
    await e.close();
  });
});
