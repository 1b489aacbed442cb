// A kubelet CredentialProviderConfig (kubelet.config.k8s.io v1, v1beta1, v1alpha1), read and checked
// as the kubelet does (pkg/credentialprovider/plugin/config.go): a file, or a directory whose *.json,
// *.yaml and *.yml files are merged in name order; strict fields; at least one provider; names without
// `/`, spaces, `.` or `..`, unique; a known apiVersion; at least one valid matchImages entry; a
// defaultCacheDuration (Go duration, >= 0); and the plugin must exist in the bin dir. `tokenAttributes`
// (a service account token for the pull) is refused: sigward would need to mint tokens for every
// workload's service account, a privilege it does not take.
import { accessSync, constants, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { SigwardError, withoutExcerpt } from '../errors.ts';
import { parseSchemelessUrl } from './image-match.ts';

export const CONFIG_API_VERSIONS = [
  'kubelet.config.k8s.io/v1',
  'kubelet.config.k8s.io/v1beta1',
  'kubelet.config.k8s.io/v1alpha1',
] as const;
export const PLUGIN_API_VERSIONS = [
  'credentialprovider.kubelet.k8s.io/v1',
  'credentialprovider.kubelet.k8s.io/v1beta1',
  'credentialprovider.kubelet.k8s.io/v1alpha1',
] as const;

export interface CredentialProvider {
  readonly name: string;
  /** The plugin's absolute path: the bin dir joined with the name. */
  readonly path: string;
  readonly apiVersion: string;
  readonly matchImages: readonly string[];
  readonly defaultCacheDurationMs: number;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

function invalid(where: string, why: string): SigwardError {
  return new SigwardError('CONFIG_INVALID', `credential provider config ${where}: ${why}`, {
    details: { source: where },
  });
}

const durationUnits: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Go's time.ParseDuration ("12h", "1h30m", "0", "1.5s", "-5m"), in milliseconds; undefined if invalid. */
export function parseGoDuration(text: string): number | undefined {
  const match = /^([-+]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/.exec(text);
  if (text === '0' || text === '+0' || text === '-0') return 0;
  if (match === null) return undefined;
  let total = 0;
  for (const part of text.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) {
    total += Number(part[1]) * (durationUnits[part[2] ?? ''] ?? Number.NaN);
  }
  return match[1] === '-' ? -total : total;
}

function configFiles(path: string): string[] {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (error) {
    throw invalid(path, `cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!isDir) return [path];
  const files = readdirSync(path, { withFileTypes: true })
    .filter((e) => !e.isDirectory() && /\.(json|ya?ml)$/.test(e.name))
    .map((e) => join(path, e.name))
    .sort();
  if (files.length === 0) throw invalid(path, 'is a directory without *.json, *.yaml or *.yml files');
  return files;
}

function strictFields(where: string, value: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw invalid(where, `unknown field "${key}"`);
  }
}

function stringList(where: string, value: unknown, field: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw invalid(where, `${field} must be a list of strings`);
  }
  return value as string[];
}

function providerOf(where: string, raw: unknown, index: number, binDir: string): CredentialProvider {
  const at = `providers[${index}]`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw invalid(where, `${at} must be an object`);
  const p = raw as Record<string, unknown>;
  strictFields(where, p, [
    'name',
    'matchImages',
    'defaultCacheDuration',
    'apiVersion',
    'args',
    'env',
    'tokenAttributes',
  ]);
  const name = p['name'];
  if (typeof name !== 'string' || name === '') throw invalid(where, `${at}.name is required`);
  if (name.includes('/')) throw invalid(where, `${at}.name "${name}": provider name cannot contain '/'`);
  if (/\s/.test(name)) throw invalid(where, `${at}.name "${name}": provider name cannot contain spaces`);
  if (name === '.' || name === '..') throw invalid(where, `${at}.name cannot be '${name}'`);
  const apiVersion = p['apiVersion'];
  if (typeof apiVersion !== 'string' || !(PLUGIN_API_VERSIONS as readonly string[]).includes(apiVersion)) {
    throw invalid(where, `${at}.apiVersion must be one of ${PLUGIN_API_VERSIONS.join(', ')}`);
  }
  const matchImages = stringList(where, p['matchImages'], `${at}.matchImages`);
  if (matchImages.length === 0) throw invalid(where, `${at}.matchImages needs at least 1 item`);
  for (const image of matchImages) {
    if (parseSchemelessUrl(image) === undefined)
      throw invalid(where, `${at}.matchImages "${image}" is invalid`);
  }
  const cache = p['defaultCacheDuration'];
  if (cache === undefined || cache === null) throw invalid(where, `${at}.defaultCacheDuration is required`);
  const defaultCacheDurationMs = typeof cache === 'string' ? parseGoDuration(cache) : undefined;
  if (defaultCacheDurationMs === undefined) {
    throw invalid(where, `${at}.defaultCacheDuration must be a duration such as "12h" or "0"`);
  }
  if (defaultCacheDurationMs < 0) throw invalid(where, `${at}.defaultCacheDuration must be >= 0`);
  if (p['tokenAttributes'] !== undefined && p['tokenAttributes'] !== null) {
    throw invalid(
      where,
      `${at}.tokenAttributes is not supported by sigward (it would have to mint a token for every workload's service account); give the plugin its own identity instead`,
    );
  }
  const env: Record<string, string> = {};
  const rawEnv = p['env'] ?? [];
  if (!Array.isArray(rawEnv)) throw invalid(where, `${at}.env must be a list of {name, value}`);
  for (const [i, item] of rawEnv.entries()) {
    const e = item as Record<string, unknown> | null;
    if (
      typeof e !== 'object' ||
      e === null ||
      typeof e['name'] !== 'string' ||
      typeof e['value'] !== 'string'
    ) {
      throw invalid(where, `${at}.env[${i}] must be {name, value} strings`);
    }
    strictFields(where, e, ['name', 'value']);
    env[e['name']] = e['value'];
  }
  const path = join(binDir, name);
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw invalid(where, `${at}: plugin binary executable ${path} did not exist (or is not executable)`);
  }
  return {
    name,
    path,
    apiVersion,
    matchImages,
    defaultCacheDurationMs,
    args: stringList(where, p['args'], `${at}.args`),
    env,
  };
}

/** Reads and checks a CredentialProviderConfig file or directory against a plugin bin dir. */
export function readCredentialProviderConfig(
  configPath: string,
  binDir: string,
): readonly CredentialProvider[] {
  try {
    if (!statSync(binDir).isDirectory()) throw new Error('not a directory');
  } catch {
    throw invalid(configPath, `plugin binary directory ${binDir} did not exist`);
  }
  const providers: CredentialProvider[] = [];
  for (const file of configFiles(configPath)) {
    let body: unknown;
    try {
      body = parseYaml(readFileSync(file, 'utf8'), { uniqueKeys: true });
    } catch (error) {
      const why = error instanceof Error ? withoutExcerpt(error.message) : 'unreadable';
      throw invalid(file, `does not parse: ${why}`);
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw invalid(file, 'must be an object');
    const doc = body as Record<string, unknown>;
    strictFields(file, doc, ['apiVersion', 'kind', 'providers']);
    if (doc['kind'] !== 'CredentialProviderConfig')
      throw invalid(file, 'kind must be CredentialProviderConfig');
    if (!(CONFIG_API_VERSIONS as readonly unknown[]).includes(doc['apiVersion'])) {
      throw invalid(file, `apiVersion must be one of ${CONFIG_API_VERSIONS.join(', ')}`);
    }
    const list = doc['providers'] ?? [];
    if (!Array.isArray(list)) throw invalid(file, 'providers must be a list');
    for (const [i, raw] of list.entries()) {
      const provider = providerOf(file, raw, i, binDir);
      if (providers.some((p) => p.name === provider.name)) {
        throw invalid(file, `duplicate provider name "${provider.name}"`);
      }
      providers.push(provider);
    }
  }
  if (providers.length === 0) throw invalid(configPath, 'needs at least 1 provider');
  return providers;
}
