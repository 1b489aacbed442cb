// Which compiled policies apply to an image in a namespace. Pure.
//
//   compileGlob(pattern)                → CompiledGlob (throws SigwardError POLICY_GLOB_INVALID)
//   policiesFor(policies, image, ns)    → the policies whose `images` match, ClusterImagePolicies
//                                         everywhere, ImagePolicies only in their own namespace
//
// Globs name repositories (`registry/repository`), never tags or digests (a tag is not what a
// signature binds to). `*` and `?` stay within one path segment, `**` spans segments: `a/**` is
// everything below `a` (not `a` itself), `**/nginx` is nginx in any path, `**` alone is every image.
// Both the glob and the image are Docker Hub normalised: `nginx` and `docker.io/library/nginx` are
// both `index.docker.io/library/nginx`. Matching runs on RE2 (linear time) over bounded strings.
import { RE2JS } from 're2js';
import { SigwardError } from '../errors.ts';
import { DOCKER_HUB, parseReference, repositoryString } from '../oci/reference.ts';
import type { ImageReference, RepositoryName } from '../oci/reference.ts';

export const GLOB_INVALID = 'POLICY_GLOB_INVALID';
export const GLOB_MAX_LENGTH = 512;

export interface CompiledGlob {
  /** As written in the policy. */
  readonly pattern: string;
  /** After Docker Hub normalisation: `index.docker.io/library/nginx`. */
  readonly normalised: string;
  test(repository: string): boolean;
}

/** The minimum a policy needs for matching (CompiledPolicy has it). */
export interface MatchablePolicy {
  readonly kind: 'ClusterImagePolicy' | 'ImagePolicy';
  readonly namespace?: string;
  readonly images: readonly CompiledGlob[];
}

function globError(pattern: string, why: string): SigwardError {
  return new SigwardError(
    GLOB_INVALID,
    `invalid image glob ${JSON.stringify(pattern.slice(0, 200))}: ${why}`,
  );
}

const HAS_GLOB = /[*?]/;
const GLOB_CHARS = /^[a-zA-Z0-9._\-/:*?[\]]+$/;

const DOCKER_HUB_HOSTS: ReadonlySet<string> = new Set([
  'docker.io',
  'index.docker.io',
  'registry-1.docker.io',
]);

/**
 * The registry as policies see it: another spelling of the same registry is folded into one name,
 * the HTTPS default port (`ghcr.io:443` is `ghcr.io`) and Docker Hub's hosts (`docker.io`,
 * `registry-1.docker.io`), so an image written through an alias cannot slip past the policies for
 * its registry (with noMatchAction warn or allow it would pass as NO_POLICY). Matching only: the
 * image is still read from the registry as written.
 */
function policyRegistry(registry: string): string {
  const host = registry.endsWith(':443') ? registry.slice(0, -':443'.length) : registry;
  return DOCKER_HUB_HOSTS.has(host) ? DOCKER_HUB : host;
}

/** `registry/repository` as policies match it (policyRegistry; Docker Hub's one-segment names under library/). */
function policyRepository(name: RepositoryName): string {
  const registry = policyRegistry(name.registry);
  const repository =
    registry === DOCKER_HUB && !name.repository.includes('/')
      ? `library/${name.repository}`
      : name.repository;
  return `${registry}/${repository}`;
}

/** Docker Hub normalisation of a glob, on the same rule as parseReference: host if `.`/`:`/localhost. */
function normaliseGlob(pattern: string): string {
  if (pattern.startsWith('**')) return pattern;
  const slash = pattern.indexOf('/');
  const first = slash === -1 ? '' : pattern.slice(0, slash);
  const isHost = slash !== -1 && (/[.:]/.test(first) || first === 'localhost' || first.startsWith('['));
  if (isHost) {
    const rest = pattern.slice(slash + 1);
    const registry = policyRegistry(first.toLowerCase());
    if (registry === DOCKER_HUB && !rest.includes('/') && !rest.startsWith('**'))
      return `${registry}/library/${rest}`;
    return `${registry}/${rest}`;
  }
  // On Docker Hub: a single segment is an official image (`nginx`, `ngi*`), under library/.
  return slash === -1 ? `${DOCKER_HUB}/library/${pattern}` : `${DOCKER_HUB}/${pattern}`;
}

const quote = (s: string): string => s.replace(/[.+^${}()|[\]\\]/g, '\\$&');

function globToRegExp(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length;) {
    if (glob.startsWith('**/', i)) {
      out += '(?:.*/)?';
      i += 3;
    } else if (glob.startsWith('**', i)) {
      out += '.*';
      i += 2;
    } else if (glob[i] === '*') {
      out += '[^/]*';
      i += 1;
    } else if (glob[i] === '?') {
      out += '[^/]';
      i += 1;
    } else {
      out += quote(glob[i] ?? '');
      i += 1;
    }
  }
  return `^${out}$`;
}

/** Compiles one `images` entry. Throws SigwardError POLICY_GLOB_INVALID with the reason in words. */
export function compileGlob(pattern: string): CompiledGlob {
  if (pattern.length === 0) throw globError(pattern, 'it is empty');
  if (pattern.length > GLOB_MAX_LENGTH)
    throw globError(pattern, `it is longer than ${GLOB_MAX_LENGTH} characters`);
  if (!GLOB_CHARS.test(pattern))
    throw globError(pattern, 'only letters, digits, . _ - / : and the wildcards * ? are allowed');
  if (pattern.includes('@')) throw globError(pattern, 'a glob names repositories, not digests');
  const lastSlash = pattern.lastIndexOf('/');
  if (pattern.lastIndexOf(':') > lastSlash && lastSlash !== -1)
    throw globError(pattern, 'a glob names repositories, not tags (a tag is not what a signature binds to)');
  if (lastSlash === -1 && pattern.includes(':'))
    throw globError(pattern, 'a glob names repositories, not tags');
  if (/\*\*\*/.test(pattern)) throw globError(pattern, '*** is not a wildcard; use * or **');
  if (/[^/]\*\*|\*\*[^/]/.test(pattern.replace(/^\*\*$/, '')))
    throw globError(pattern, '** must be a whole path segment (a/**/b, a/**, **/b)');
  if (pattern.includes('//') || pattern.endsWith('/')) throw globError(pattern, 'empty path segment');
  if (pattern.includes('[') || pattern.includes(']')) {
    if (!/^\[[0-9a-fA-F:.]+\](:|\/)/.test(pattern))
      throw globError(pattern, '[ ] only for an IPv6 registry host');
  }
  const normalised = normaliseGlob(pattern);
  const path = normalised.slice(normalised.indexOf('/') + 1);
  if (path !== normalised && /[A-Z]/.test(path))
    throw globError(pattern, 'repository paths are lower-case, so this glob could never match');
  const literal = !HAS_GLOB.test(normalised);
  if (literal) {
    // A literal must itself be a valid repository (catches upper-case paths that can never match).
    try {
      parseReference(`${normalised}`, { defaultTag: false });
    } catch (error) {
      throw globError(pattern, error instanceof Error ? error.message : String(error));
    }
    return { pattern, normalised, test: (repository) => repository === normalised };
  }
  const re = RE2JS.compile(globToRegExp(normalised));
  return { pattern, normalised, test: (repository) => re.matches(repository) };
}

/** `registry/repository` of an image as policies match it (registry aliases folded); throws REFERENCE_INVALID. */
export function repositoryOf(image: string | ImageReference): string {
  return policyRepository(typeof image === 'string' ? parseReference(image) : image);
}

/** Does any glob of the policy match this repository (`index.docker.io/library/nginx`)? */
export function policyMatches(policy: MatchablePolicy, repository: string): boolean {
  return policy.images.some((g) => g.test(repository));
}

/**
 * The policies that apply to `image` admitted in `namespace` (undefined for a cluster-scoped object):
 * every matching ClusterImagePolicy, and matching ImagePolicies of that namespace only. Order kept.
 * A string image is parsed (throws SigwardError REFERENCE_INVALID).
 */
export function policiesFor<P extends MatchablePolicy>(
  policies: readonly P[],
  image: string | ImageReference,
  namespace: string | undefined,
): P[] {
  const repository = repositoryOf(image);
  return policies.filter(
    (p) => (p.kind === 'ClusterImagePolicy' || p.namespace === namespace) && policyMatches(p, repository),
  );
}

/** Most (namespace, repository) answers remembered per policy list before the memory starts over. */
export const MATCH_MEMORY_ENTRIES = 4096;

const answersByList = new WeakMap<readonly MatchablePolicy[], Map<string, readonly MatchablePolicy[]>>();

/**
 * policiesFor on a parsed reference, its answer remembered per policy list (a snapshot's list never
 * changes; a new snapshot is a new list, so nothing stale is served): glob matching then runs once per
 * repository and namespace, not once per admission. The answer is shared: callers must not edit it.
 */
export function matchingPolicies<P extends MatchablePolicy>(
  policies: readonly P[],
  reference: ImageReference,
  namespace: string | undefined,
): readonly P[] {
  let answers = answersByList.get(policies);
  if (answers === undefined) {
    answers = new Map();
    answersByList.set(policies, answers);
  }
  const repository = repositoryString(reference);
  const key = `${namespace === undefined ? '\u0001' : namespace}\u0000${repository}`;
  let matched = answers.get(key) as readonly P[] | undefined;
  if (matched === undefined) {
    matched = Object.freeze(policiesFor(policies, reference, namespace));
    if (answers.size >= MATCH_MEMORY_ENTRIES) answers.clear();
    answers.set(key, matched);
  }
  return matched;
}
