// The policy CRDs on a real kube-apiserver: `kubectl apply` accepts the example and every valid
// fixture, refuses what OpenAPI and CEL can refuse with the message a user reads, stores what only
// compile can judge (its Ready condition, written through the status subresource, carries the field
// path), fills defaults, and `kubectl get` shows the Mode and Ready columns.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { compilePolicy, compileTrustRoot, readyCondition } from '../src/policy/compile.ts';
import { startKube, type Kube } from './world/kube.ts';
import { kubectlOk } from './world/kubectl.ts';
import { createRunDir, type RunDir } from './world/run-dir.ts';
import {
  EXAMPLE_POLICY,
  INVALID_POLICIES,
  INVALID_TRUST_ROOTS,
  VALID_POLICIES,
  VALID_TRUST_ROOTS,
} from '../test/policy/policy-cases.ts';
import { stepsNotingFailure } from './world/failing-steps.ts';

const crdDir = fileURLToPath(new URL('../charts/sigward/crds/', import.meta.url));
const CRDS = [
  'clusterimagepolicies.policy.sigward.dev',
  'imagepolicies.policy.sigward.dev',
  'trustroots.policy.sigward.dev',
];

describe('policy CRDs on a real apiserver', () => {
  let runDir: RunDir;
  let kube: Kube;
  let failed = false;
  const check = stepsNotingFailure(() => (failed = true));
  const apply = (resource: unknown) => kube.kubectl(['apply', '-f', '-'], { input: stringify(resource) });

  before(async () => {
    runDir = createRunDir('sigward-crds-');
    try {
      kube = await startKube(runDir);
      await kubectlOk(kube.kubectl, ['apply', '-f', crdDir]);
      await kubectlOk(kube.kubectl, [
        'wait',
        '--for=condition=Established',
        '--timeout=60s',
        ...CRDS.map((c) => `crd/${c}`),
      ]);
      await kube.ensureNamespace('team-a');
    } catch (error) {
      failed = true;
      throw error;
    }
  });

  after(async () => {
    await kube?.stop();
    if (failed) console.error(`crds e2e: logs kept in ${runDir.keepLogs('crds')}`);
    runDir.remove();
  });

  check('the issue example is accepted, and compiles', async () => {
    const result = await apply(EXAMPLE_POLICY);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^clusterimagepolicy\.policy\.sigward\.dev\/signed-by-ci-job created$/m);
    assert.deepEqual(compilePolicy(EXAMPLE_POLICY).errors, []);
  });

  check('every valid fixture is accepted (and compiles)', async () => {
    for (const c of [...VALID_POLICIES, ...VALID_TRUST_ROOTS]) {
      const result = await apply(c.resource);
      assert.equal(result.code, 0, `${c.name}: ${result.stderr}`);
      assert.match(result.stdout, / (created|unchanged|configured)$/m, c.name);
    }
  });

  check('defaults are filled in by the apiserver: mode enforce, threshold 1, multiArch digest', async () => {
    const minimal = {
      ...EXAMPLE_POLICY,
      metadata: { name: 'minimal' },
      spec: { images: EXAMPLE_POLICY.spec.images, authorities: EXAMPLE_POLICY.spec.authorities },
    };
    assert.equal((await apply(minimal)).code, 0);
    const out = await kubectlOk(kube.kubectl, [
      'get',
      'clusterimagepolicy',
      'minimal',
      '-o',
      'jsonpath={.spec.mode}/{.spec.threshold}/{.spec.multiArch}',
    ]);
    assert.equal(out, 'enforce/1/digest');
  });

  for (const c of [...INVALID_POLICIES, ...INVALID_TRUST_ROOTS].filter((c) => c.layer === 'apply')) {
    check(`kubectl apply refuses ${c.name}`, async () => {
      const result = await apply(c.resource);
      assert.notEqual(result.code, 0, `accepted: ${result.stdout}`);
      assert.match(result.stderr, /The \w+ "[^"]+" is invalid|strict decoding error: unknown field/);
      assert.match(result.stderr, c.kubectl ?? /./);
    });
  }

  check(
    'what only compile can judge is stored; its Ready condition names the field (status subresource)',
    async () => {
      for (const c of [...INVALID_POLICIES, ...INVALID_TRUST_ROOTS].filter((c) => c.layer === 'status')) {
        const result = await apply(c.resource);
        assert.equal(result.code, 0, `${c.name}: ${result.stderr}`);
        const isTrustRoot = c.resource['kind'] === 'TrustRoot';
        const errors = isTrustRoot ? compileTrustRoot(c.resource).errors : compilePolicy(c.resource).errors;
        assert.deepEqual(
          errors.map((e) => e.field),
          c.tsFields,
          c.name,
        );
        const name = (c.resource['metadata'] as { name: string }).name;
        const kind = String(c.resource['kind']).toLowerCase();
        const generation = Number(
          await kubectlOk(kube.kubectl, ['get', kind, name, '-o', 'jsonpath={.metadata.generation}']),
        );
        const status = {
          observedGeneration: generation,
          conditions: [readyCondition(errors, generation, new Date())],
        };
        await kubectlOk(kube.kubectl, [
          'patch',
          kind,
          name,
          '--subresource=status',
          '--type=merge',
          '-p',
          JSON.stringify({ status }),
        ]);
        const wide = await kubectlOk(kube.kubectl, ['get', kind, name, '-o', 'wide']);
        assert.match(wide, /\bFalse\s+Invalid\b/, `${c.name}:\n${wide}`);
        const message = await kubectlOk(kube.kubectl, [
          'get',
          kind,
          name,
          '-o',
          'jsonpath={.status.conditions[?(@.type=="Ready")].message}',
        ]);
        assert.ok(message.startsWith(`${c.tsFields[0]}: `), message);
      }
    },
  );

  check('kubectl get shows Mode, Ready and Age', async () => {
    const errors = compilePolicy(EXAMPLE_POLICY).errors;
    const status = { observedGeneration: 1, conditions: [readyCondition(errors, 1, new Date())] };
    await kubectlOk(kube.kubectl, [
      'patch',
      'clusterimagepolicy',
      'signed-by-ci-job',
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status }),
    ]);
    const out = await kubectlOk(kube.kubectl, ['get', 'clusterimagepolicies']);
    const [header, ...rows] = out.trim().split('\n');
    assert.match(header ?? '', /^NAME\s+MODE\s+READY\s+AGE$/);
    assert.ok(
      rows.some((r) => /^signed-by-ci-job\s+enforce\s+True\s+\d+s$/.test(r)),
      out,
    );
    assert.ok(
      rows.some(
        (r) =>
          /^github-releases\s+warn\s+\s*\d+s$/.test(r) || /^github-releases\s+warn\s+<none>\s+\d+s$/.test(r),
      ),
      out,
    );
    const short = await kubectlOk(kube.kubectl, ['get', 'cip,ipol,trustroots', '-A']);
    assert.match(short, /team-a\s+imagepolicy\.policy\.sigward\.dev\/team-a-images\s+enforce/);
    assert.match(short, /trustroot\.policy\.sigward\.dev\/public-good/);
    const sigward = await kubectlOk(kube.kubectl, ['get', 'sigward', '-A']);
    assert.match(sigward, /clusterimagepolicy\.policy\.sigward\.dev\/signed-by-ci-job/);
  });

  check('kubectl explain shows the documented fields', async () => {
    const out = await kubectlOk(kube.kubectl, [
      'explain',
      'clusterimagepolicy.spec.authorities.keyless.identities',
    ]);
    assert.match(out, /subjectRegExp\s+<string>/);
    assert.match(out, /must match the whole\s+value \(anchored\)/);
    const threshold = await kubectlOk(kube.kubectl, ['explain', 'clusterimagepolicy.spec.threshold']);
    assert.match(threshold, /DISTINCT authorities/);
  });
});
