// Image references as users write them in pod specs (`nginx`, `ghcr.io/o/app:1@sha256:…`,
// `[::1]:5000/app`), parsed into one normalised form. Pure and dependency-free: admission/ and policy/
// import it, so it must never reach the network or another module.
//
// The grammar follows distribution/reference (the one kubelet and containerd use): the first path
// component is a registry host only if it contains `.` or `:`, is `localhost`, or has upper-case
// letters; otherwise the image is on Docker Hub and a one-component name gets `library/`.
import { SigwardError } from '../errors.ts';

/** The canonical name of Docker Hub; `docker.io` and `index.docker.io` in a reference both mean it. */
export const DOCKER_HUB = 'index.docker.io';
const dockerHubAliases: ReadonlySet<string> = new Set(['docker.io', 'index.docker.io']);

/** A repository on a registry: `{ registry: 'index.docker.io', repository: 'library/nginx' }`. */
export interface RepositoryName {
  /** Lower-case host with an optional port: `ghcr.io`, `127.0.0.1:5000`, `[::1]:5000`. */
  readonly registry: string;
  /** Path in the registry, lower-case components: `library/nginx`. */
  readonly repository: string;
}

/** A parsed image reference. A tag and a digest may both be present; the digest is what pins. */
export interface ImageReference extends RepositoryName {
  readonly tag?: string;
  readonly digest?: string;
}

export interface ParseOptions {
  /** Tag given to a reference with neither tag nor digest. Default `latest`; `false` leaves it bare. */
  defaultTag?: string | false;
}

const pathComponent = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const domainLabel = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const ipv6Literal = /^\[[0-9a-fA-F:.]+(?:%[0-9a-zA-Z._~-]+)?\]$/;
const tagPattern = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** Digests this project accepts: the two algorithms the OCI image spec registers, lower-case hex. */
const digestPatterns: Readonly<Record<string, RegExp>> = {
  sha256: /^[a-f0-9]{64}$/,
  sha512: /^[a-f0-9]{128}$/,
};
const maxNameLength = 255;

function invalid(input: string, why: string): SigwardError {
  const shown = input.length > 300 ? `${input.slice(0, 300)}…` : input;
  return new SigwardError('REFERENCE_INVALID', `invalid image reference "${shown}": ${why}`, {
    details: { reference: shown },
  });
}

/** Why a digest string is not acceptable, or undefined when it is. */
export function digestProblem(digest: string): string | undefined {
  const colon = digest.indexOf(':');
  if (colon <= 0) return 'a digest must look like sha256:<64 hex digits>';
  const algorithm = digest.slice(0, colon);
  const encoded = digest.slice(colon + 1);
  const pattern = digestPatterns[algorithm];
  if (pattern === undefined) return `unsupported digest algorithm "${algorithm}" (sha256 or sha512)`;
  if (!pattern.test(encoded)) return `the ${algorithm} digest must be lower-case hex of the right length`;
  return undefined;
}

export function isDigest(value: string): boolean {
  return digestProblem(value) === undefined;
}

/** Host and port of a registry name; the host keeps IPv6 brackets off: `[::1]:5000` → `::1`, 5000. */
export function splitRegistry(registry: string): { hostname: string; port: number | undefined } {
  const ipv6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(registry);
  if (ipv6 !== null)
    return { hostname: ipv6[1] ?? '', port: ipv6[2] === undefined ? undefined : Number(ipv6[2]) };
  const colon = registry.lastIndexOf(':');
  if (colon === -1) return { hostname: registry, port: undefined };
  return { hostname: registry.slice(0, colon), port: Number(registry.slice(colon + 1)) };
}

/** Why a registry host[:port] is not acceptable, or undefined when it is. */
function registryProblem(registry: string): string | undefined {
  // The port follows the last colon, or for an IPv6 literal the colon after its closing bracket.
  const colon = registry.startsWith('[')
    ? registry.indexOf(']:') === -1
      ? -1
      : registry.indexOf(']:') + 1
    : registry.lastIndexOf(':');
  const host = colon === -1 ? registry : registry.slice(0, colon);
  if (colon !== -1) {
    const port = registry.slice(colon + 1);
    if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
      return `invalid port "${port}" in registry "${registry}"`;
    }
  }
  if (host.startsWith('[')) return ipv6Literal.test(host) ? undefined : `invalid IPv6 host "${host}"`;
  if (host.length === 0 || host.length > 253) return `invalid registry host "${host}"`;
  if (!host.split('.').every((label) => domainLabel.test(label))) return `invalid registry host "${host}"`;
  return undefined;
}

/** Lower-cases the host and maps Docker Hub aliases to DOCKER_HUB. */
function normaliseRegistry(registry: string): string {
  const lower = registry.toLowerCase();
  return dockerHubAliases.has(lower) ? DOCKER_HUB : lower;
}

function splitName(input: string, name: string): RepositoryName {
  if (name.length === 0) throw invalid(input, 'the repository name is empty');
  const slash = name.indexOf('/');
  let registry: string;
  let path: string;
  const first = slash === -1 ? '' : name.slice(0, slash);
  const firstIsHost =
    slash !== -1 && (/[.:]/.test(first) || first === 'localhost' || first !== first.toLowerCase());
  if (firstIsHost) {
    const problem = registryProblem(first);
    if (problem !== undefined) throw invalid(input, problem);
    registry = normaliseRegistry(first);
    path = name.slice(slash + 1);
  } else {
    registry = DOCKER_HUB;
    path = name;
  }
  if (registry === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;
  for (const component of path.split('/')) {
    if (pathComponent.test(component)) continue;
    if (component.length === 0) throw invalid(input, 'the repository path has an empty component');
    if (pathComponent.test(component.toLowerCase()))
      throw invalid(input, 'the repository name must be lower-case');
    throw invalid(input, `"${component}" is not a valid repository path component`);
  }
  if (registry.length + 1 + path.length > maxNameLength) {
    throw invalid(input, `the repository name is longer than ${maxNameLength} characters`);
  }
  return { registry, repository: path };
}

/**
 * Parses and normalises an image reference: `nginx` → index.docker.io/library/nginx:latest. Throws
 * SigwardError REFERENCE_INVALID with the reason in words.
 */
export function parseReference(input: string, options: ParseOptions = {}): ImageReference {
  if (input.length === 0) throw invalid(input, 'it is empty');
  if (/\s/.test(input)) throw invalid(input, 'it contains white space');
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const problem = digestProblem(digest);
    if (problem !== undefined) throw invalid(input, problem);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/') && colon > rest.lastIndexOf(']')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!tagPattern.test(tag)) throw invalid(input, `"${tag}" is not a valid tag`);
  }
  const name = splitName(input, rest);
  const defaultTag = options.defaultTag ?? 'latest';
  if (tag === undefined && digest === undefined && defaultTag !== false) tag = defaultTag;
  return { ...name, ...(tag === undefined ? {} : { tag }), ...(digest === undefined ? {} : { digest }) };
}

/** Parses a repository without tag or digest (`ghcr.io/o/sigs`), for settings that name one. */
export function parseRepository(input: string): RepositoryName {
  if (input.length === 0) throw invalid(input, 'it is empty');
  if (/\s|@/.test(input)) throw invalid(input, 'a repository has no digest');
  const lastColon = input.lastIndexOf(':');
  if (lastColon > input.lastIndexOf('/') && lastColon > input.lastIndexOf(']')) {
    throw invalid(input, 'a repository has no tag');
  }
  return splitName(input, input);
}

/** `registry/repository`, the name cosign and policies match on. */
export function repositoryString(name: RepositoryName): string {
  return `${name.registry}/${name.repository}`;
}

/** The canonical text: `index.docker.io/library/nginx:1.27@sha256:…`. */
export function formatReference(reference: ImageReference): string {
  const tag = reference.tag === undefined ? '' : `:${reference.tag}`;
  const digest = reference.digest === undefined ? '' : `@${reference.digest}`;
  return `${repositoryString(reference)}${tag}${digest}`;
}

/** The same image pinned to a digest; the tag is kept for messages. */
export function withDigest(reference: ImageReference, digest: string): ImageReference {
  const problem = digestProblem(digest);
  if (problem !== undefined) throw invalid(digest, problem);
  return { ...reference, digest };
}

/** A reference to a tag or a digest in a repository: what a signature tag or a child manifest is. */
export function referenceIn(name: RepositoryName, tagOrDigest: string): ImageReference {
  const base = { registry: name.registry, repository: name.repository };
  if (tagOrDigest.includes(':')) {
    const problem = digestProblem(tagOrDigest);
    if (problem !== undefined) throw invalid(tagOrDigest, problem);
    return { ...base, digest: tagOrDigest };
  }
  if (!tagPattern.test(tagOrDigest)) throw invalid(tagOrDigest, `"${tagOrDigest}" is not a valid tag`);
  return { ...base, tag: tagOrDigest };
}

/** What to ask the registry for: the digest when there is one, otherwise the tag. */
export function manifestIdentifier(reference: ImageReference): string {
  const id = reference.digest ?? reference.tag;
  if (id === undefined) throw invalid(formatReference(reference), 'it has neither tag nor digest');
  return id;
}
