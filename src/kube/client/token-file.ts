// A bearer token read from a file and re-read while it is used, as client-go's cached file token source
// does: the kubelet rotates a projected service-account token in place (about every hour, well before it
// expires), so a token read once at start would stop working. Re-read when the last read is a minute
// old, or at once after a 401; a read failure keeps nothing stale and names the file, never its content.
import { readFile } from 'node:fs/promises';
import { SigwardError } from '../../errors.ts';
import type { Authenticator, RequestCredentials } from './connection.ts';

const REREAD_MS = 60_000;

export function tokenFileAuthenticator(
  file: string,
  options: { readonly base?: RequestCredentials; readonly now?: () => number } = {},
): Authenticator {
  const now = options.now ?? (() => performance.now());
  let cached: { readonly at: number; readonly credentials: Promise<RequestCredentials> } | undefined;
  const read = async (): Promise<RequestCredentials> => {
    let token: string;
    try {
      token = (await readFile(file, 'utf8')).trim();
    } catch (error) {
      throw new SigwardError(
        'KUBE_CONFIG_INVALID',
        `the token file ${file} could not be read (${(error as NodeJS.ErrnoException).code ?? 'unknown error'})`,
        { cause: error },
      );
    }
    if (token === '') throw new SigwardError('KUBE_CONFIG_INVALID', `the token file ${file} is empty`);
    return { ...options.base, headers: { ...options.base?.headers, authorization: `Bearer ${token}` } };
  };
  return {
    current() {
      if (cached === undefined || now() - cached.at >= REREAD_MS) {
        const credentials = read();
        cached = { at: now(), credentials };
        // A failed read is not kept: the next request tries the file again.
        credentials.catch(() => {
          if (cached?.credentials === credentials) cached = undefined;
        });
      }
      return cached.credentials;
    },
    invalidate() {
      cached = undefined;
    },
  };
}
