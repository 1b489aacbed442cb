// Where a one-shot command (verify, verify-attestation, verify-bundle, sign, attest, policy test) keeps
// TUF metadata while it runs: the directory SIGWARD_TUF_CACHE names (kept: the user chose it, and a
// later run reuses it), else a private temporary directory removed when the command is done. Never a
// shared fixed path: another user's directory there would be unwritable, or seed the trust.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TufCacheDirectory {
  readonly path: string;
  /** Removes the directory when it was made for this run; a named one is left as it is. */
  release(): void;
}

export function tufCacheDirectory(env: NodeJS.ProcessEnv = process.env): TufCacheDirectory {
  const named = env['SIGWARD_TUF_CACHE'];
  if (named !== undefined && named !== '') return { path: named, release: () => undefined };
  const path = mkdtempSync(join(tmpdir(), 'sigward-tuf-'));
  return { path, release: () => rmSync(path, { recursive: true, force: true }) };
}
