// The answer the engine gives for a Pod review whose images are all cached and allowed, as server/
// receives it (a HandledReview): for tests and bench scripts of the HTTP face without the engine.
import type { HandledReview } from '../../src/server/app.ts';

export type AllowedReview = Extract<HandledReview, { ok: true }>;

/** A cached allow of the review `uid`; `extra` adds the log's fields (user, object, …). */
export function cachedAllow(uid: string, extra: Partial<AllowedReview> = {}): AllowedReview {
  return {
    ok: true,
    review: {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid, allowed: true, auditAnnotations: { decision: 'allow' } },
    },
    decision: 'allow',
    kind: 'Pod',
    operation: 'CREATE',
    uid,
    ...extra,
  };
}
