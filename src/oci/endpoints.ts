// Test-only registry endpoints: a registry name (e.g. an ECR host, `<account>.dkr.ecr.<region>.amazonaws.com`)
// served by a process on this machine's loopback, so tests can use real registry names without DNS.
// It cannot weaken production: the target must be a loopback `host:port` (never another machine, so
// no traffic or credential can be sent elsewhere), the name keeps its meaning everywhere else (which
// keychain entry, which cloud account and region), and the CLI reads it only from
// SIGWARD_TEST_REGISTRY_ENDPOINTS, which no chart or documented setting sets.
import { SigwardError } from '../errors.ts';
import { isLoopbackHostname } from './plain-http.ts';

export const TEST_REGISTRY_ENDPOINTS_ENV = 'SIGWARD_TEST_REGISTRY_ENDPOINTS';

/** Registry name (lower case) → loopback `host:port`. */
export type RegistryEndpoints = ReadonlyMap<string, string>;

function invalid(why: string): SigwardError {
  return new SigwardError('CONFIG_INVALID', `${TEST_REGISTRY_ENDPOINTS_ENV}: ${why}`);
}

/** Checks each entry: a registry host name → a loopback `host:port`. Throws CONFIG_INVALID. */
export function registryEndpoints(entries: Readonly<Record<string, string>>): RegistryEndpoints {
  const map = new Map<string, string>();
  for (const [name, target] of Object.entries(entries)) {
    if (!/^[a-z0-9.-]+(:\d+)?$/i.test(name)) throw invalid(`"${name}" is not a registry host`);
    let url: URL;
    try {
      url = new URL(`http://${target}/`);
    } catch {
      throw invalid(`"${target}" is not host:port`);
    }
    if (!isLoopbackHostname(url.hostname) || url.port === '' || url.host !== target.toLowerCase()) {
      throw invalid(`"${target}" must be a loopback host:port (127.0.0.1:PORT or [::1]:PORT)`);
    }
    map.set(name.toLowerCase(), url.host);
  }
  return map;
}

/** `name=127.0.0.1:port,name2=...` (the environment variable's form); empty or undefined → none. */
export function parseRegistryEndpoints(text: string | undefined): RegistryEndpoints {
  const entries: Record<string, string> = {};
  for (const item of (text ?? '').split(',')) {
    if (item.trim() === '') continue;
    const eq = item.indexOf('=');
    if (eq === -1) throw invalid(`"${item.trim()}" is not name=host:port`);
    entries[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
  }
  return registryEndpoints(entries);
}
