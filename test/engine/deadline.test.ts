// One deadline for the whole review: a registry that does not answer in time gives the configured
// failure outcome with reason TIMEOUT (deny by default; with errors allowed, admitted and counted as
// fail-open), and so does a registry that is down. Faults are held by the test, never slept on.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { freePort, startDockerRegistry } from '../support/docker-registry.ts';
import type { DockerRegistry } from '../support/docker-registry.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import type { FaultProxy } from '../support/fault-proxy.ts';
import { counterValue } from '../../src/telemetry/metrics.ts';
import {
  clusterPolicy,
  engineUnderTest,
  kubewardenAuthority,
  pemOf,
  podReview,
  pushFixtures,
  responseOf,
} from './harness.ts';
import type { Fixtures } from './harness.ts';

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

const policy = clusterPolicy('kubewarden', ['127.0.0.1:*/signed/**'], [kubewardenAuthority()]);

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
