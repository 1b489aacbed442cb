// `sigward verify-bundle`: the sigstore-conformance client protocol.
//   sigward verify-bundle --bundle F (IDENTITY FLAGS | --key K [--insecure-ignore-tlog])
//     [--trusted-root R] FILE_OR_sha256:DIGEST
// The identity flags are `sigward verify`'s (identity-flags.ts: subject, issuer, GitHub workflow,
// Fulcio extensions). Exit 0 when verified; 1 with a reason on stderr otherwise (usage errors too).
import { createHash } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SigwardError, describeError } from '../errors.ts';
import { matchIdentity } from '../policy/identity.ts';
import { parseBundle } from '../sigstore/bundle.ts';
import { publicKeyFromPem } from '../sigstore/keys.ts';
import { TrustRootStore, loadTrustRoot } from '../sigstore/trust-root.ts';
import type { TrustRootSnapshot } from '../sigstore/trust-root.ts';
import { verifyBundle } from '../sigstore/verify.ts';
import type { SignedContent, SignerTrust } from '../sigstore/verify.ts';
import { hasIdentityFlags, identityMatcher, identityOptions, identityUsage } from './identity-flags.ts';
import { tufCacheDirectory } from './tuf-cache.ts';
import { UsageError } from './usage-error.ts';
import { stdio, type Output } from './command-line.ts';

export const verifyBundleUsage = `Usage: sigward verify-bundle --bundle FILE (KEYLESS | KEY) [--trusted-root trusted_root.json]
         FILE | sha256:DIGEST

Keyless (both required, exact or regexp; the same flags as sigward verify):
${identityUsage}Key:
  --key PUBLIC_KEY.pem [--insecure-ignore-tlog]

Verifies one Sigstore bundle (v0.1-v0.3) over a file or a digest. Regular expressions are RE2 and
always match the whole value. Without --trusted-root the public-good root is fetched through TUF.
`;

/** Runs the command; returns the exit code. */
export async function runVerifyBundle(argv: readonly string[], io: Output = stdio): Promise<number> {
  try {
    const message = await verifyFromArgs(argv);
    io.out(`${message}\n`);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`sigward verify-bundle: ${error.message}\n\n${verifyBundleUsage}`);
      return 1;
    }
    const code = error instanceof SigwardError ? ` [${error.code}]` : '';
    io.err(`sigward verify-bundle: verification FAILED${code}: ${describeError(error)}\n`);
    return 1;
  }
}

async function verifyFromArgs(argv: readonly string[]): Promise<string> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        bundle: { type: 'string' },
        ...identityOptions,
        key: { type: 'string' },
        'insecure-ignore-tlog': { type: 'boolean' },
        'trusted-root': { type: 'string' },
      },
    });
  } catch (error) {
    throw new UsageError(describeError(error));
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError('expected exactly one FILE or sha256:DIGEST');
  if (!values.bundle) throw new UsageError('--bundle is required');
  const keyless = hasIdentityFlags(values);
  if (values.key && keyless) throw new UsageError('use --key or the --certificate-* options, not both');
  if (!values.key && !keyless)
    throw new UsageError('give --key, or --certificate-identity and --certificate-oidc-issuer');
  if (values['insecure-ignore-tlog'] && !values.key)
    throw new UsageError('--insecure-ignore-tlog is only for --key');

  // Compile the identity first: a bad regular expression is a usage problem, reported by its flag.
  const identity = keyless ? identityMatcher(values) : undefined;

  const target = positionals[0]!;
  const content: SignedContent = /^sha256:[0-9a-fA-F]{64}$/.test(target)
    ? { kind: 'artifact', digest: target.toLowerCase() }
    : artifactFromFile(target);
  const signer: SignerTrust = values.key
    ? { kind: 'key', publicKey: readKey(values.key), requireTlog: !values['insecure-ignore-tlog'] }
    : { kind: 'keyless' };
  const root = await trustRoot(values['trusted-root']);
  const bundle = parseBundle(readFileSync(values.bundle));
  const result = verifyBundle({ bundle, trust: root.material, signer, content });

  if (result.identity.kind === 'key') return 'OK: signature verified with the given key';
  const match = matchIdentity(identity!, result.identity);
  if (!match.matched)
    throw new SigwardError('IDENTITY_MISMATCH', `the signer is not the expected identity: ${match.reason}`);
  return `OK: signed by ${result.identity.subject} (issuer ${result.identity.issuer})`;
}

function artifactFromFile(path: string): SignedContent {
  const bytes = readFileSync(path);
  return { kind: 'artifact', digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, bytes };
}

function readKey(path: string): KeyObject {
  try {
    return publicKeyFromPem(readFileSync(path));
  } catch (error) {
    throw new SigwardError('KEY_INVALID', `--key ${path}: ${describeError(error)}`, { cause: error });
  }
}

async function trustRoot(path: string | undefined): Promise<TrustRootSnapshot> {
  if (path) return loadTrustRoot(readFileSync(path), `file:${path}`);
  const cache = tufCacheDirectory();
  const store = new TrustRootStore({ kind: 'public-good', cachePath: cache.path });
  try {
    return await store.refresh();
  } catch (error) {
    process.stderr.write(
      `sigward verify-bundle: warning: ${describeError(error)}; using the embedded public-good root\n`,
    );
    return store.require();
  } finally {
    cache.release();
  }
}
