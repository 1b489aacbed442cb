// Where the Go-built tools live: e2e/tools/install.sh builds them into a cache outside the work tree and
// links each one into e2e/.bin/<name>. Debian tools come from their usual paths.
import { accessSync, constants } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { WorldError } from './errors.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const toolsDir = path.join(repoRoot, 'e2e', '.bin');

/** Tools of the mandatory e2e tier, then those of the opt-in full tier. */
export type GoTool =
  | 'etcd'
  | 'kube-apiserver'
  | 'kubectl'
  | 'fulcio'
  | 'rekor-server-v2'
  | 'timestamp-server'
  | 'olareg'
  | 'distribution-registry'
  | 'crane'
  | 'cosign'
  | 'helm'
  | 'ecr-credential-provider'
  | 'docker-credential-ecr-login'
  | 'tesseract'
  | 'rekor-server'
  | 'trillian_log_server'
  | 'trillian_log_signer'
  | 'cosign2';

const fullTierTools: ReadonlySet<GoTool> = new Set([
  'tesseract',
  'rekor-server',
  'trillian_log_server',
  'trillian_log_signer',
  'cosign2',
]);

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The path of a Go-built tool, or a one-line error saying how to build it. */
export function goTool(name: GoTool, dir = toolsDir): string {
  const file = path.join(dir, name);
  if (isExecutable(file)) return file;
  const command = fullTierTools.has(name) ? 'npm run e2e:tools:full' : 'npm run e2e:tools';
  throw new WorldError('TOOL_MISSING', `${name} is not built yet: run \`${command}\` (it caches the build)`);
}

/** The path of a tool from Debian's packages, or a one-line error saying what to install. */
export function debianTool(binary: string, debianPackage: string): string {
  for (const dir of ['/usr/bin', '/usr/sbin', '/usr/local/bin']) {
    const file = path.join(dir, binary);
    if (isExecutable(file)) return file;
  }
  throw new WorldError('TOOL_MISSING', `${binary} is missing: apt-get install -y ${debianPackage}`);
}
