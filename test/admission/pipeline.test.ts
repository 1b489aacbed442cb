// The pure half of the admission path, end to end, as the engine wires it: AdmissionReview → skip
// rules → image sites → matching policies → (fake) verification outcomes → evaluate → response. The
// replies for the two README samples are kept as JSON next to the reviews
// (test/fixtures/admission/responses/) and must match exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseAdmissionReview, reviewResponse, uidOf } from '../../src/admission/review.ts';
import type { AdmissionReviewResponse } from '../../src/admission/review.ts';
import { planReview } from '../../src/admission/skip.ts';
import { decisionResponse, errorResponse, skipResponse } from '../../src/admission/respond.ts';
import { compilePolicy } from '../../src/policy/compile.ts';
import type { CompiledPolicy } from '../../src/policy/compile.ts';
import { policiesFor } from '../../src/policy/match.ts';
import { evaluateImage } from '../../src/policy/evaluate.ts';
import type { AuthorityOutcome, EvaluationSettings } from '../../src/policy/evaluate.ts';
import { parseReference } from '../../src/oci/reference.ts';
import { EKS_ISSUER, EXAMPLE_POLICY, SIGN_SA } from '../policy/policy-cases.ts';
import { fixture } from './fixtures.ts';

const DIGESTS: Record<string, string> = {
  'registry.example.com/apps/api:1.4.2': `sha256:${'1'.repeat(64)}`,
  'registry.example.com/apps/migrate:2.0': `sha256:${'2'.repeat(64)}`,
  'registry.example.com/apps/web:3.1': `sha256:${'3'.repeat(64)}`,
  'prom/statsd-exporter:v0.26.0': `sha256:${'4'.repeat(64)}`,
};
const ATTACKER = 'https://kubernetes.io/namespaces/default/serviceaccounts/attacker';
/** Who signed what, as verify-image would report it for one authority. */
function verify(image: string, authority: string): AuthorityOutcome {
  if (image === 'registry.example.com/apps/api:1.4.2')
    return { authority, verified: true, code: 'VERIFIED', message: '1 of 1 signature(s) verified' };
  if (image === 'registry.example.com/apps/web:3.1')
    return {
      authority,
      verified: false,
      code: 'IDENTITY_SUBJECT_MISMATCH',
      message: 'none of 1 signature(s) is valid: subject: …',
      found: { kind: 'certificate', issuer: EKS_ISSUER, subject: ATTACKER },
    };
  return {
    authority,
    verified: false,
    code: 'NO_SIGNATURES',
    message: 'no signatures found (looked in referrers (api) and the legacy tag)',
  };
}

const policies: CompiledPolicy[] = [
  compilePolicy(EXAMPLE_POLICY).policy,
  compilePolicy({
    ...EXAMPLE_POLICY,
    metadata: { name: 'third-party-images' },
    spec: { ...EXAMPLE_POLICY.spec, images: ['prom/*'], mode: 'warn' },
  }).policy,
];
const settings: EvaluationSettings = { unmatched: 'allow', errors: 'deny' };

function review(body: unknown): AdmissionReviewResponse {
  const uid = uidOf(body);
  try {
    const request = parseAdmissionReview(body).request;
    const plan = planReview(request, { ownNamespace: 'sigward', scope: 'opt-out' });
    if (plan.skip !== undefined) return reviewResponse(skipResponse(request.uid, plan.skip));
    const decisions = plan.sites.map((site) => {
      let reference;
      try {
        reference = parseReference(site.image);
      } catch (error) {
        const code = (error as { code: string }).code;
        return evaluateImage(
          { ...site, policies: [], failure: { code, message: (error as Error).message } },
          settings,
        );
      }
      const matched = policiesFor(policies, reference, request.namespace);
      const digest = reference.digest ?? DIGESTS[site.image];
      return evaluateImage(
        {
          field: site.field,
          image: site.image,
          ...(digest === undefined ? {} : { digest }),
          policies: matched.map((policy) => ({
            policy,
            outcomes: policy.authorities.map((a) => verify(site.image, a.name)),
          })),
        },
        settings,
      );
    });
    return reviewResponse(decisionResponse(request.uid, decisions));
  } catch (error) {
    return reviewResponse(errorResponse(uid, error));
  }
}

const expected = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../fixtures/admission/responses/${name}.json`, import.meta.url), 'utf8'));

test('README sample 1: a pod signed by the CI job is admitted', () => {
  assert.deepEqual(review(fixture('pod-create-signed')), expected('pod-create-signed'));
});

test('README sample 2: a pod with an unsigned init container and a wrongly signed container is denied', () => {
  const r = review(fixture('pod-create-wrong-signer'));
  assert.deepEqual(r, expected('pod-create-wrong-signer'));
  assert.equal(r.response.allowed, false);
  assert.match(
    r.response.status?.message ?? '',
    /found subject "https:\/\/kubernetes\.io\/namespaces\/default\/serviceaccounts\/attacker"/,
  );
  assert.match(
    r.response.status?.message ?? '',
    new RegExp(`expected subject "${SIGN_SA.replace(/[./]/g, '\\$&')}"`),
  );
  assert.equal(r.response.warnings?.length, 1, 'the warn policy on prom/* speaks as a warning');
});

test('skips, unmatched images and garbage go through the same path', () => {
  assert.equal(review(fixture('pod-delete')).response.allowed, true);
  assert.equal(
    review(fixture('pod-kube-system')).response.auditAnnotations?.['skipped'],
    'system-namespace: namespace kube-system is excluded',
  );
  assert.equal(
    review(fixture('pod-update-labels-only')).response.auditAnnotations?.['skipped'],
    'no-image-change: the update changes no image',
  );
  const eph = review(fixture('pod-ephemeralcontainers')).response;
  assert.equal(eph.allowed, true, 'busybox matches no policy and unmatched images are allowed here');
  const deployment = review(fixture('deployment-create')).response;
  assert.equal(deployment.allowed, true);
  const garbage = review({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: 'g-1', operation: 'CREATE' },
  });
  assert.equal(garbage.response.uid, 'g-1');
  assert.equal(garbage.response.allowed, false);
  assert.equal(garbage.response.status?.code, 400);
  const body = fixture('pod-create-signed');
  (body.request['object'] as { spec: { containers: unknown } }).spec.containers = Array.from(
    { length: 10_000 },
    () => ({ image: 'nginx' }),
  );
  const huge = review(body).response;
  assert.equal(huge.allowed, false);
  assert.match(
    huge.status?.message ?? '',
    /10000 containers, more than the 256 sigward checks \[ADMISSION_TOO_MANY_IMAGES\]/,
  );
  const badImage = fixture('pod-create-signed');
  (
    badImage.request['object'] as { spec: { containers: Array<{ image: string }> } }
  ).spec.containers[0]!.image = 'Registry.Example.com/Apps/API';
  const refused = review(badImage).response;
  assert.equal(
    refused.allowed,
    false,
    'an unreadable reference is never allowed, even with unmatched: allow',
  );
  assert.match(refused.status?.message ?? '', /\[IMAGE_INVALID\]$/);
});
