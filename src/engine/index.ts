// The public face of src/engine.
export {
  Decider,
  DEADLINE_EXCEEDED,
  type DeciderDeps,
  type DeciderSettings,
  type SiteDecision,
  type SiteInput,
} from './decide.ts';
export {
  ReviewEngine,
  workloadOf,
  type ReviewEngineDeps,
  type ReviewResult,
  type ReviewRoute,
} from './review.ts';
export { PolicyVerifier, type PolicyVerifierDeps, type PolicyVerifierSettings } from './verify-policy.ts';
export { KeyedLimiter, mapLimit } from './limit.ts';
export { TrustRootRegistry, type TrustRootRegistryOptions } from './trust-roots.ts';
export { RegistryAccess, type RegistryAccessOptions } from './registry-adapters.ts';
export { SingleFlightCache, DEFAULT_CACHE_SETTINGS, type CacheSettings } from './verdict-cache.ts';
export type * from './ports.ts';
export { systemClock } from './ports.ts';
export {
  RecheckScheduler,
  type PodRecheck,
  type RecheckDeps,
  type RecheckSettings,
  type RecheckSink,
  type RecheckTrigger,
  type RecheckViolation,
} from './recheck.ts';
export { recheckPlan, runningDigest, type RunningPod } from './recheck-sites.ts';
