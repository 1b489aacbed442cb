// `sigward verify IMAGE`: is the image signed by the given identity or key? cosign's flag names, so a
// cosign verify command line carries over. Exit 0 when verified, 1 otherwise (a usage error, a
// rejected or missing signature, or a registry failure: each says which, with a reason code).
import { readFileSync } from 'node:fs';
import type { parseArgs } from 'node:util';
import { SigwardError, describeError } from '../errors.ts';
import {
  RegistryClient,
  anonymousKeychain,
  combineKeychains,
  formatReference,
  parseReference,
  parseRepository,
  referenceIn,
} from '../oci/index.ts';
import type { ImageReference, Keychain, RepositoryName } from '../oci/index.ts';
import { cloudKeychain, testRegistryEndpoints } from './cloud-credentials.ts';
import {
  CREDENTIAL_PROVIDER_USAGE,
  credentialProviderKeychain,
  dockerConfigFileKeychainFor,
  programCredentialOptions,
} from './program-credentials.ts';
import { publicKeyFromPem } from '../sigstore/keys.ts';
import { TrustRootStore, loadTrustRoot } from '../sigstore/trust-root.ts';
import type { TrustRootSnapshot } from '../sigstore/trust-root.ts';
import { verifyImage } from '../sigstore/verify-image.ts';
import type { Authority, MultiArch } from '../sigstore/verify-image.ts';
import {
  hasIdentityFlags,
  identityCheck,
  identityMatcher,
  identityOptions,
  identityUsage,
} from './identity-flags.ts';
import { tufCacheDirectory } from './tuf-cache.ts';
import { UsageError } from './usage-error.ts';
import { renderVerdict } from './verify-output.ts';
import { parseCommandLine, stdio, type Command, type Output } from './command-line.ts';

/** Who may have signed, against what, and where to look: shared with `sigward verify-attestation`. */
export const signerUsage = `Keyless (both required, exact or regexp):
${identityUsage}Key:
  --key PUBLIC_KEY.pem
Trust:
  --trusted-root trusted_root.json | --tuf-mirror URL --tuf-root root.json   (default: public-good TUF;
                           its metadata in a temporary directory, or kept in $SIGWARD_TUF_CACHE)
  --insecure-ignore-tlog   accept signatures without a transparency log entry (time from a TSA)
  --insecure-ignore-sct    accept certificates without an SCT (a private Fulcio without CT log)
Where:
  --signature-repository REPO   signatures live in another repository (like COSIGN_REPOSITORY)
  --allow-insecure-registry HOST  plain HTTP to this registry (loopback always may), repeatable
  --cloud-credentials auto|none|ecr,gcp,acr  ECR, Artifact Registry/GCR and ACR hosts get a token from
                                the cloud identity, each only for its own hosts (default auto)
  ${CREDENTIAL_PROVIDER_USAGE}
`;

export const verifyUsage = `Usage: sigward verify [options] IMAGE

${signerUsage}  --platform OS/ARCH[/VARIANT]  IMAGE is an index: verify this platform's manifest
  --accept-index-signature      with --platform: a signature on the index counts for the platform
  --require-platform-signatures IMAGE is an index: every platform manifest must be signed
                                (an index with no runnable platform is refused)
  --accept-platform-signatures  IMAGE is an index: its signature, or else one on every platform manifest
Output:
  --output text|json

Registry credentials come from $DOCKER_CONFIG/config.json or ~/.docker/config.json (auths, and the
credHelpers / credsStore programs it names), then the credential provider plugins, then the cloud.
Regular expressions are RE2 and always match the whole value.
`;

export type { Output } from './command-line.ts';

const verify: Command = { name: 'sigward verify', usage: verifyUsage, usageExit: 1 };

/** The options of signerUsage. */
export const signerOptions = {
  ...identityOptions,
  key: { type: 'string' },
  'insecure-ignore-tlog': { type: 'boolean' },
  'insecure-ignore-sct': { type: 'boolean' },
  'trusted-root': { type: 'string' },
  'tuf-mirror': { type: 'string' },
  'tuf-root': { type: 'string' },
  'signature-repository': { type: 'string' },
  'allow-insecure-registry': { type: 'string', multiple: true },
  'cloud-credentials': { type: 'string' },
  ...programCredentialOptions,
} as const;

const options = {
  ...signerOptions,
  platform: { type: 'string' },
  'accept-index-signature': { type: 'boolean' },
  'require-platform-signatures': { type: 'boolean' },
  'accept-platform-signatures': { type: 'boolean' },
  output: { type: 'string', default: 'text' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

/** Runs the command; returns the exit code. `env` is for DOCKER_CONFIG, HOME and the TUF cache. */
export async function runVerify(
  argv: readonly string[],
  io: Output = stdio,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const line = parseCommandLine(argv, options, verify, io);
  if (typeof line === 'number') return line;
  const { values, positionals } = line;
  const json = values.output === 'json';
  let client: RegistryClient | undefined;
  try {
    const plan = planFrom(values, positionals, env);
    client = new RegistryClient({
      keychain: registryKeychain(values, env),
      insecureRegistries: values['allow-insecure-registry'] ?? [],
      registryEndpoints: testRegistryEndpoints(env),
    });
    const trust = await trustRoot(values, env, io);
    const target = await resolveTarget(client, plan.reference, values);
    const verdict = await verifyImage({
      client,
      image: { repository: plan.reference, digest: target.digest },
      authorities: plan.authorities,
      trust: trust.material,
      multiArch: target.multiArch,
      ...(plan.signatureRepository === undefined
        ? {}
        : { discovery: { signatureRepository: plan.signatureRepository } }),
    });
    if (json) io.out(`${JSON.stringify({ ...verdict, trustRoot: trust.version }, null, 2)}\n`);
    else io[verdict.status === 'verified' ? 'out' : 'err'](renderVerdict(verdict));
    return verdict.status === 'verified' ? 0 : 1;
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`sigward verify: ${error.message}\n\n${verifyUsage}`);
      return 1;
    }
    const code = error instanceof SigwardError ? error.code : 'VERIFY_FAILED';
    const registry = code.startsWith('REGISTRY_') ? 'registry failure, signatures not checked: ' : '';
    if (json)
      io.out(`${JSON.stringify({ status: 'error', code, message: describeError(error) }, null, 2)}\n`);
    else io.err(`sigward verify: ${registry}[${code}] ${describeError(error)}\n`);
    return 1;
  } finally {
    await client?.close();
  }
}

interface Plan {
  readonly reference: ImageReference;
  readonly authorities: Authority[];
  readonly signatureRepository?: RepositoryName;
}

function planFrom(values: Values, positionals: readonly string[], env: NodeJS.ProcessEnv): Plan {
  if (positionals.length !== 1) throw new UsageError('expected exactly one IMAGE');
  if (values.output !== 'text' && values.output !== 'json') throw new UsageError('--output is text or json');
  if (values['accept-index-signature'] === true && values.platform === undefined)
    throw new UsageError('--accept-index-signature needs --platform (which manifest of the index to admit)');
  const indexModes = ['accept-index-signature', 'require-platform-signatures', 'accept-platform-signatures'];
  if (indexModes.filter((m) => values[m as keyof Values] === true).length > 1)
    throw new UsageError(`use one of --${indexModes.join(', --')}`);
  const authority = authorityFromFlags(values);
  const reference = parseReference(positionals[0]!);
  const repositoryText = values['signature-repository'] ?? env['COSIGN_REPOSITORY'];
  return {
    reference,
    authorities: [authority],
    ...(repositoryText === undefined ? {} : { signatureRepository: parseRepository(repositoryText) }),
  };
}

/** The flags that say who may have signed and against which trust root (verify, verify-attestation). */
export type SignerFlags = Pick<
  Values,
  | keyof typeof identityOptions
  | 'key'
  | 'insecure-ignore-tlog'
  | 'insecure-ignore-sct'
  | 'trusted-root'
  | 'tuf-mirror'
  | 'tuf-root'
>;

/** --key or the identity flags → one authority; a contradiction is a UsageError. */
export function authorityFromFlags(values: SignerFlags): Authority {
  const keyless = hasIdentityFlags(values);
  if (values.key !== undefined && keyless)
    throw new UsageError('use --key or the --certificate-* options, not both');
  if (values.key === undefined && !keyless)
    throw new UsageError('give --key, or --certificate-identity and --certificate-oidc-issuer');
  if (values['insecure-ignore-sct'] === true && !keyless)
    throw new UsageError('--insecure-ignore-sct is only for keyless verification');
  if ((values['tuf-mirror'] === undefined) !== (values['tuf-root'] === undefined))
    throw new UsageError('--tuf-mirror and --tuf-root go together');
  if (values['trusted-root'] !== undefined && values['tuf-mirror'] !== undefined)
    throw new UsageError('use --trusted-root or --tuf-mirror, not both');
  const requireTlog = values['insecure-ignore-tlog'] !== true;
  if (values.key !== undefined)
    return { kind: 'key', name: `key ${values.key}`, publicKey: readKey(values.key), requireTlog };
  // Compiled first: a bad regular expression is a usage problem, reported by its flag.
  const matcher = identityMatcher(values);
  return {
    kind: 'keyless',
    name: 'keyless identity',
    match: identityCheck(matcher),
    requireTlog,
    requireSct: values['insecure-ignore-sct'] !== true,
  };
}

function readKey(path: string) {
  try {
    return publicKeyFromPem(readFileSync(path));
  } catch (error) {
    const code = error instanceof SigwardError ? error.code : 'SIGSTORE_KEY_MALFORMED';
    throw new SigwardError(code, `--key ${path}: ${describeError(error)}`, { cause: error });
  }
}

/**
 * The registry credentials of verify and verify-attestation: the docker config (and its credential
 * programs), then the credential provider plugins, then the cloud identity.
 */
export function registryKeychain(
  values: Pick<Values, 'cloud-credentials' | 'credential-provider-config' | 'credential-provider-bin-dir'>,
  env: NodeJS.ProcessEnv,
): Keychain {
  return combineKeychains(
    dockerConfigFileKeychainFor(undefined, env) ?? anonymousKeychain,
    credentialProviderKeychain(values, env) ?? anonymousKeychain,
    cloudKeychain(values['cloud-credentials'], { registryEndpoints: testRegistryEndpoints(env) }),
  );
}

export async function trustRoot(
  values: SignerFlags,
  env: NodeJS.ProcessEnv,
  io: Output,
): Promise<TrustRootSnapshot> {
  const file = values['trusted-root'];
  if (file !== undefined) return loadTrustRoot(readFileSync(file), `file:${file}`);
  // The snapshot is held in memory once read: the metadata's directory goes when this returns.
  const cache = tufCacheDirectory(env);
  const cachePath = cache.path;
  try {
    const mirror = values['tuf-mirror'];
    const root = values['tuf-root'];
    if (mirror !== undefined && root !== undefined) {
      return await new TrustRootStore({
        kind: 'tuf',
        mirrorURL: mirror,
        rootPath: root,
        cachePath,
      }).refresh();
    }
    const store = new TrustRootStore({ kind: 'public-good', cachePath });
    try {
      return await store.refresh();
    } catch (error) {
      io.err(`sigward verify: warning: ${describeError(error)}; using the embedded public-good root\n`);
      return store.require();
    }
  } finally {
    cache.release();
  }
}

/** The digest to admit (tags resolved), and how an index counts. */
async function resolveTarget(
  client: RegistryClient,
  reference: ImageReference,
  values: Values,
): Promise<{ digest: string; multiArch: MultiArch }> {
  const digest = reference.digest ?? (await client.resolve(reference)).digest;
  if (values['require-platform-signatures'] === true)
    return { digest, multiArch: { mode: 'every-platform' } };
  if (values['accept-platform-signatures'] === true)
    return { digest, multiArch: { mode: 'index-or-every-platform' } };
  const platform = values.platform;
  if (platform === undefined) return { digest, multiArch: { mode: 'digest' } };
  const fetched = await client.getManifest(referenceIn(reference, digest));
  if (fetched.manifest.kind !== 'index') {
    throw new SigwardError(
      'VERIFY_NOT_AN_INDEX',
      `--platform ${platform}: ${formatReference(reference)} is not an index`,
    );
  }
  const [os, architecture, variant] = platform.split('/');
  const child = fetched.manifest.manifests.find(
    (m) =>
      m.platform?.os === os &&
      m.platform?.architecture === architecture &&
      (variant === undefined || m.platform?.variant === variant),
  );
  if (child === undefined) {
    throw new SigwardError('VERIFY_NO_SUCH_PLATFORM', `the index ${digest} has no manifest for ${platform}`);
  }
  return {
    digest: child.digest,
    multiArch:
      values['accept-index-signature'] === true
        ? { mode: 'index-signature', index: digest }
        : { mode: 'digest' },
  };
}
