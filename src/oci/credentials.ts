// Docker config JSON (`.dockerconfigjson` of a kubernetes.io/dockerconfigjson pull secret, or
// ~/.docker/config.json `auths`), parsed into credentials and looked up the way kubelet does, minus
// globs: the key's registry host must equal the image's registry exactly (Docker Hub's aliases count as
// one), and a key with a path applies to that repository path and below. Never substring matching:
// `registry.example.com.evil.io` does not get `registry.example.com`'s password.
import { SigwardError } from '../errors.ts';
import type { Keychain, RegistryCredential } from './auth.ts';
import { DOCKER_HUB } from './reference.ts';

interface Entry {
  readonly registry: string;
  /** Repository path prefix, '' for the whole registry. */
  readonly path: string;
  readonly credential: RegistryCredential;
}

/**
 * A parsed docker config: its entries in lookup order, and the credential helpers it names (a docker
 * config FILE's `credHelpers` by registry and `credsStore`; only the file keychain of
 * src/exec-credentials runs them, never a pull secret's). Holds secrets: do not log it.
 */
export interface DockerConfig {
  readonly entries: readonly Entry[];
  /** `credHelpers`: registry host → helper name (`ecr-login` runs `docker-credential-ecr-login`). */
  readonly credHelpers: ReadonlyMap<string, string>;
  /** `credsStore`: the helper for every registry without its own. */
  readonly credsStore?: string;
}

/** Docker config keys that are not registries: the file form has them beside `auths`. */
const fileKeys: ReadonlySet<string> = new Set(['auths', 'credHelpers', 'credsStore']);

/** A helper name becomes part of a program name: letters, digits, `.`, `_`, `-` only (no path). */
const helperName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const dockerHubKeys: ReadonlySet<string> = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/**
 * An `auths` key as messages show it: credentials written into it (`https://user:pw@reg.io`,
 * `user:pw@reg.io/team`, everything before the last `@` of its host part) are cut.
 */
function shownKey(key: string): string {
  return key.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/]*@/i, '$1[redacted]@');
}

function configError(source: string, why: string): SigwardError {
  // Never quote the content: it is full of secrets.
  return new SigwardError('CREDENTIALS_INVALID', `${source}: ${why}`, { details: { source } });
}

/**
 * The registry and repository path an `auths` key stands for: `https://index.docker.io/v1/` →
 * index.docker.io, `http://reg:5000/v2/` → reg:5000, `reg.io/team` → reg.io + team. Undefined when the
 * key cannot name a registry.
 */
export function registryOfAuthKey(key: string): { registry: string; path: string } | undefined {
  let rest = key.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const slash = rest.indexOf('/');
  let host = slash === -1 ? rest : rest.slice(0, slash);
  rest = slash === -1 ? '' : rest.slice(slash + 1);
  host = host.toLowerCase();
  if (host.length === 0 || /[\s@]/.test(host)) return undefined;
  // The `/v1/` and `/v2/` suffixes are API paths of old CLI logins, not repository paths.
  let path = rest.replace(/\/+$/, '');
  if (/^v[12]$/.test(path)) path = '';
  if (dockerHubKeys.has(host)) {
    host = DOCKER_HUB;
    if (path.length > 0 && !path.includes('/')) path = `library/${path}`;
  }
  return { registry: host, path };
}

function decodeBase64(value: string, source: string, key: string): string {
  if (!/^[A-Za-z0-9+/=\s]*$/.test(value))
    throw configError(source, `auths["${shownKey(key)}"].auth is not base64`);
  return Buffer.from(value, 'base64').toString('utf8');
}

function credentialOf(
  entry: Record<string, unknown>,
  source: string,
  key: string,
): RegistryCredential | undefined {
  const text = (name: string): string | undefined => {
    const value = entry[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string')
      throw configError(source, `auths["${shownKey(key)}"].${name} must be a string`);
    return value.length === 0 ? undefined : value;
  };
  const identityToken = text('identitytoken');
  const registryToken = text('registrytoken');
  let username = text('username');
  let password = text('password');
  const auth = text('auth');
  if (auth !== undefined) {
    const decoded = decodeBase64(auth, source, key);
    const colon = decoded.indexOf(':');
    if (colon === -1)
      throw configError(source, `auths["${shownKey(key)}"].auth must encode "username:password"`);
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  if (registryToken !== undefined) return { kind: 'registry-token', token: registryToken };
  if (identityToken !== undefined) {
    return { kind: 'identity-token', identityToken, ...(username === undefined ? {} : { username }) };
  }
  if (username !== undefined && password !== undefined) return { kind: 'basic', username, password };
  return undefined;
}

/**
 * Parses docker config JSON. `source` names it in errors (e.g. `secret default/regcred`); the content
 * itself is never quoted. Throws CREDENTIALS_INVALID. Accepts both `{"auths": {...}}` and the legacy
 * `.dockercfg` form (the map itself).
 */
export function parseDockerConfigJson(text: string | Uint8Array, source = 'docker config'): DockerConfig {
  let body: unknown;
  try {
    body = JSON.parse(typeof text === 'string' ? text : Buffer.from(text).toString('utf8'));
  } catch {
    throw configError(source, 'is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw configError(source, 'must be a JSON object');
  }
  const record = body as Record<string, unknown>;
  // The legacy `.dockercfg` form is the map itself; a file with any of the file keys is the new form.
  const fileForm = Object.keys(record).some((key) => fileKeys.has(key));
  const auths = fileForm ? (record['auths'] ?? {}) : record;
  if (typeof auths !== 'object' || auths === null || Array.isArray(auths)) {
    throw configError(source, '"auths" must be an object');
  }
  const entries: Entry[] = [];
  for (const [key, value] of Object.entries(auths as Record<string, unknown>)) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw configError(source, `auths["${shownKey(key)}"] must be an object`);
    }
    const target = registryOfAuthKey(key);
    if (target === undefined)
      throw configError(source, `auths key "${shownKey(key)}" does not name a registry`);
    const credential = credentialOf(value as Record<string, unknown>, source, key);
    if (credential !== undefined) entries.push({ ...target, credential });
  }
  return { entries, ...helpersOf(fileForm ? record : {}, source) };
}

function checkedHelper(value: unknown, source: string, field: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || !helperName.test(value)) {
    throw configError(source, `${field} must name a credential helper (letters, digits, ".", "_", "-")`);
  }
  return value;
}

/** `credHelpers` by registry host (keys with a repository path never match in docker: skipped). */
function helpersOf(
  record: Record<string, unknown>,
  source: string,
): { credHelpers: ReadonlyMap<string, string>; credsStore?: string } {
  const credHelpers = new Map<string, string>();
  const helpers = record['credHelpers'] ?? {};
  if (typeof helpers !== 'object' || helpers === null || Array.isArray(helpers)) {
    throw configError(source, '"credHelpers" must be an object');
  }
  for (const [key, value] of Object.entries(helpers as Record<string, unknown>)) {
    const name = checkedHelper(value, source, `credHelpers["${shownKey(key)}"]`);
    const target = registryOfAuthKey(key);
    if (name !== undefined && target !== undefined && target.path === '')
      credHelpers.set(target.registry, name);
  }
  const credsStore = checkedHelper(record['credsStore'], source, '"credsStore"');
  return { credHelpers, ...(credsStore === undefined ? {} : { credsStore }) };
}

function pathApplies(prefix: string, repository: string): boolean {
  return prefix === '' || repository === prefix || repository.startsWith(`${prefix}/`);
}

/**
 * A keychain over several docker configs (e.g. a pod's pull secrets in order, then its service
 * account's). For one repository: every matching entry, the longest path first, then config order.
 */
export function dockerConfigKeychain(configs: readonly DockerConfig[]): Keychain {
  const all = configs.flatMap((config, order) => config.entries.map((entry) => ({ entry, order })));
  return {
    credentialsFor(registry, repository) {
      const host = registry.toLowerCase();
      return all
        .filter(({ entry }) => entry.registry === host && pathApplies(entry.path, repository))
        .sort((a, b) => b.entry.path.length - a.entry.path.length || a.order - b.order)
        .map(({ entry }) => entry.credential);
    },
  };
}
