// Content digests: computing them, checking fetched bytes against them, and the `<alg>-<hex>` tag
// scheme derived from them (the referrers fallback tag, and the base of cosign's `.sig` tags).
import { hash } from 'node:crypto';
import { SigwardError, type SafeDetails } from '../errors.ts';
import { digestProblem } from './reference.ts';

export type DigestAlgorithm = 'sha256' | 'sha512';

export function digestOf(bytes: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${hash(algorithm, bytes, 'hex')}`;
}

/** Throws REGISTRY_PROTOCOL when a registry hands us something that is not a digest we accept. */
export function assertDigest(value: string, what: string, details: SafeDetails = {}): void {
  const problem = digestProblem(value);
  if (problem !== undefined) {
    throw new SigwardError('REGISTRY_PROTOCOL', `${what} is not a valid digest: ${problem}`, { details });
  }
}

/**
 * Checks bytes against the digest they were asked for (or announced with), in the digest's own
 * algorithm. Throws REGISTRY_DIGEST_MISMATCH: the registry, or something between, altered the content.
 */
export function verifyDigest(bytes: Uint8Array, expected: string, details: SafeDetails = {}): void {
  assertDigest(expected, 'expected digest', details);
  const algorithm = expected.slice(0, expected.indexOf(':')) as DigestAlgorithm;
  const actual = digestOf(bytes, algorithm);
  if (actual !== expected) {
    throw new SigwardError(
      'REGISTRY_DIGEST_MISMATCH',
      `content digest ${actual} does not match ${expected}`,
      {
        details: { ...details, expected, actual },
      },
    );
  }
}

/**
 * The tag named after a digest: `sha256:abc…` → `sha256-abc…`, plus `.suffix` when given (cosign's
 * `.sig`, `.att`). Follows the distribution spec's referrers tag schema: algorithm cut to 32 characters,
 * hex to 64, any character a tag may not hold becomes `-`.
 */
export function digestTag(digest: string, suffix?: string): string {
  assertDigest(digest, 'subject digest');
  const colon = digest.indexOf(':');
  const clean = (s: string): string => s.replace(/[^a-zA-Z0-9_.-]/g, '-');
  const base = `${clean(digest.slice(0, colon).slice(0, 32))}-${clean(digest.slice(colon + 1).slice(0, 64))}`;
  return suffix === undefined ? base : `${base}.${suffix}`;
}

/** The referrers fallback tag of the distribution spec, `sha256-<hex>`. */
export function referrersTag(subjectDigest: string): string {
  return digestTag(subjectDigest);
}
