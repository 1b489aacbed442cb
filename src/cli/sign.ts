// `sigward sign IMAGE` and `sigward attest IMAGE --predicate FILE --type URI`: keyless signing with an
// OIDC identity token (see src/signer/identity-token.ts for where it comes from). Progress goes to
// stderr line by line; the signed image and where its signature went go to stdout.
// Exit 0 when signed (and, unless --no-verify, verified); 1 on failure; 2 on a usage error.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SigwardError, describeError } from '../errors.ts';
import {
  RegistryClient,
  combineKeychains,
  parseReference,
  staticKeychain,
  type Keychain,
  type RegistryCredential,
} from '../oci/index.ts';
import {
  embeddedPublicGoodTrustRoot,
  loadTrustRoot,
  type TrustRootSnapshot,
} from '../sigstore/trust-root.ts';
import { SIGNING_CONFIG_TARGET, TRUSTED_ROOT_TARGET, fetchTufTargets } from '../sigstore/tuf-targets.ts';
import { scrub } from '../signer/errors.ts';
import {
  PROVIDER_NAMES,
  selectProvider,
  type IdentityTokenProvider,
  type ProviderName,
} from '../signer/identity-token.ts';
import {
  PUBLIC_GOOD_SERVICES,
  servicesFromSigningConfig,
  withOverrides,
  type ServiceOverrides,
  type Services,
} from '../signer/services.ts';
import { attestImage, signImage, type SignContext, type SignOutcome } from '../signer/sign-image.ts';
import { cloudKeychain, testRegistryEndpoints } from './cloud-credentials.ts';
import {
  credentialProviderKeychain,
  dockerConfigFileKeychainFor,
  programCredentialOptions,
} from './program-credentials.ts';
import { PREDICATE_TYPES, attestUsage, signUsage } from './sign-usage.ts';
import { tufCacheDirectory } from './tuf-cache.ts';
import { stdio, type Output } from './command-line.ts';

export { attestUsage, signUsage } from './sign-usage.ts';

class UsageError extends Error {}

const COSIGN_PROVIDER_NAMES: Readonly<Record<string, ProviderName>> = {
  filesystem: 'kubernetes',
  envvar: 'env',
};

const options = {
  'identity-token': { type: 'string' },
  'oidc-provider': { type: 'string' },
  'kubernetes-token-path': { type: 'string' },
  audience: { type: 'string' },
  'signing-config': { type: 'string' },
  'trusted-root': { type: 'string' },
  'fulcio-url': { type: 'string' },
  'rekor-url': { type: 'string' },
  'rekor-api-version': { type: 'string' },
  'timestamp-server-url': { type: 'string' },
  'tuf-mirror': { type: 'string' },
  'tuf-root': { type: 'string' },
  'no-verify': { type: 'boolean' },
  'registry-config': { type: 'string' },
  ...programCredentialOptions,
  'registry-username': { type: 'string' },
  'registry-password': { type: 'string' },
  // The name `sigward verify`, `policy test` and `webhook` use; `--insecure-registry` stays as an alias.
  'allow-insecure-registry': { type: 'string', multiple: true },
  'insecure-registry': { type: 'string', multiple: true },
  'registry-ca': { type: 'string', multiple: true },
  'cloud-credentials': { type: 'string' },
  bundle: { type: 'string' },
  timeout: { type: 'string' },
  format: { type: 'string' },
  recursive: { type: 'boolean' },
  predicate: { type: 'string' },
  type: { type: 'string' },
  yes: { type: 'boolean', short: 'y' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

function readFileOr(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new UsageError(`${what} ${path} cannot be read${typeof code === 'string' ? ` (${code})` : ''}`);
  }
}

/** Hosts that may be read over plain HTTP, from either spelling of the flag. */
function insecureRegistriesFrom(values: Values): { insecureRegistries?: string[] } {
  const hosts = [...(values['allow-insecure-registry'] ?? []), ...(values['insecure-registry'] ?? [])];
  return hosts.length === 0 ? {} : { insecureRegistries: hosts };
}

function overridesFrom(values: Values): ServiceOverrides {
  const version = values['rekor-api-version'];
  if (version !== undefined && version !== '1' && version !== '2') {
    throw new UsageError('--rekor-api-version must be 1 or 2');
  }
  return {
    ...(values['fulcio-url'] === undefined ? {} : { fulcioUrl: values['fulcio-url'] }),
    ...(values['rekor-url'] === undefined ? {} : { rekorUrl: values['rekor-url'] }),
    ...(version === undefined ? {} : { rekorApiVersion: version === '2' ? 2 : 1 }),
    ...(values['timestamp-server-url'] === undefined
      ? {}
      : { timestampServerUrl: values['timestamp-server-url'] }),
  };
}

/**
 * The services and the trusted root: from the files given, else from TUF (a private mirror with
 * --tuf-mirror/--tuf-root, or public-good). Public-good falls back to the known service URLs and the
 * root embedded in @sigstore/tuf when TUF cannot be reached; a private mirror that fails is an error.
 */
async function sigstoreFrom(
  values: Values,
  io: Output,
): Promise<{ services: Services; trust: TrustRootSnapshot }> {
  const configFile = values['signing-config'];
  const rootFile = values['trusted-root'];
  const mirror = values['tuf-mirror'];
  if (mirror !== undefined && values['tuf-root'] === undefined)
    throw new UsageError('--tuf-mirror needs --tuf-root');
  let configBytes: Uint8Array | undefined =
    configFile === undefined ? undefined : readFileOr(configFile, '--signing-config');
  let trust =
    rootFile === undefined ? undefined : loadTrustRoot(readFileOr(rootFile, '--trusted-root'), rootFile);
  if (configBytes === undefined || trust === undefined) {
    const wanted = [
      ...(configBytes === undefined ? [SIGNING_CONFIG_TARGET] : []),
      ...(trust === undefined ? [TRUSTED_ROOT_TARGET] : []),
    ];
    const cache = tufCacheDirectory();
    try {
      const targets = await fetchTufTargets(
        {
          cachePath: cache.path,
          ...(mirror === undefined ? {} : { mirrorURL: mirror }),
          ...(values['tuf-root'] === undefined ? {} : { rootPath: values['tuf-root'] }),
        },
        wanted,
      );
      configBytes ??= targets[SIGNING_CONFIG_TARGET];
      const root = targets[TRUSTED_ROOT_TARGET];
      if (trust === undefined && root !== undefined)
        trust = loadTrustRoot(root, `tuf:${mirror ?? 'public-good'}`);
    } catch (error) {
      if (mirror !== undefined) throw error;
      io.err(`warning: ${describeError(error)}; using the public-good defaults embedded in sigward\n`);
      trust ??= embeddedPublicGoodTrustRoot();
    } finally {
      cache.release();
    }
  }
  if (trust === undefined) throw new UsageError('no trusted root');
  const base = configBytes === undefined ? PUBLIC_GOOD_SERVICES : servicesFromSigningConfig(configBytes);
  return { services: withOverrides(base, overridesFrom(values)), trust };
}

function keychainFrom(values: Values, registry: string): Keychain {
  const keychains: Keychain[] = [];
  const username = values['registry-username'];
  const password = values['registry-password'] ?? process.env['SIGWARD_REGISTRY_PASSWORD'];
  if (username !== undefined) {
    if (password === undefined) throw new UsageError('--registry-username needs --registry-password');
    const credential: RegistryCredential = { kind: 'basic', username, password };
    keychains.push(staticKeychain({ [registry]: credential }));
  }
  try {
    const dockerConfig = dockerConfigFileKeychainFor(values['registry-config']);
    if (dockerConfig !== undefined) keychains.push(dockerConfig);
  } catch (error) {
    // A file that cannot be read is a usage error (exit 2); one that is not a docker config fails (1).
    if (error instanceof SigwardError && error.cause !== undefined) throw new UsageError(error.message);
    throw error;
  }
  // After every configured credential, as the kubelet's credential providers come after pull secrets.
  try {
    const plugins = credentialProviderKeychain(values);
    if (plugins !== undefined) keychains.push(plugins);
    keychains.push(
      cloudKeychain(values['cloud-credentials'], { registryEndpoints: testRegistryEndpoints() }),
    );
  } catch (error) {
    throw new UsageError(describeError(error));
  }
  return combineKeychains(...keychains);
}

/** Remembers every token it hands out, so no message can carry one. */
function remembering(provider: IdentityTokenProvider, seen: string[]): IdentityTokenProvider {
  return {
    name: provider.name,
    source: provider.source,
    async getToken(signal) {
      const token = await provider.getToken(signal);
      seen.push(token);
      return token;
    },
  };
}

function report(outcome: SignOutcome, io: Output, verb: string): void {
  const where = outcome.format === 'legacy' ? `tag ${outcome.location}` : `referrer ${outcome.location}`;
  io.out(`${verb} ${outcome.image} (${where})\n`);
  for (const child of outcome.children ?? []) report(child, io, verb);
}

/** Runs `sigward sign` or `sigward attest`; returns the exit code. */
export async function runSign(
  command: 'sign' | 'attest',
  argv: readonly string[],
  io: Output = stdio,
): Promise<number> {
  const usage = command === 'sign' ? signUsage : attestUsage;
  const seen: string[] = [];
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
    } catch (error) {
      throw new UsageError(describeError(error));
    }
    const { values, positionals } = parsed;
    if (values.help === true) {
      io.out(usage);
      return 0;
    }
    if (positionals.length !== 1) throw new UsageError('name exactly one image');
    const reference = parseReference(positionals[0] ?? '');
    // cosign's names for the same sources are accepted too.
    const named = values['oidc-provider'];
    const provider = named === undefined ? undefined : (COSIGN_PROVIDER_NAMES[named] ?? named);
    if (provider !== undefined && !PROVIDER_NAMES.includes(provider as ProviderName)) {
      throw new UsageError(`--oidc-provider must be one of ${PROVIDER_NAMES.join(', ')}`);
    }
    const format = values.format ?? 'bundle';
    if (format !== 'bundle' && format !== 'legacy') throw new UsageError('--format must be bundle or legacy');
    if (command === 'attest' && values.format !== undefined)
      throw new UsageError('attest writes bundles only');
    const timeoutSeconds = values.timeout === undefined ? 30 : Number(values.timeout);
    if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0)
      throw new UsageError('--timeout must be seconds > 0');

    let predicate: unknown;
    let predicateType = '';
    if (command === 'attest') {
      if (values.predicate === undefined || values.type === undefined) {
        throw new UsageError('attest needs --predicate FILE and --type TYPE');
      }
      predicateType = PREDICATE_TYPES[values.type] ?? values.type;
      if (!/^[a-z][a-z0-9+.-]*:/i.test(predicateType)) {
        throw new UsageError(`--type ${values.type} is neither a known short name nor a URI`);
      }
      try {
        predicate = JSON.parse(readFileOr(values.predicate, '--predicate').toString('utf8'));
      } catch (error) {
        if (error instanceof UsageError) throw error;
        throw new UsageError(`--predicate ${values.predicate} is not JSON`);
      }
    }

    const { services, trust } = await sigstoreFrom(values, io);
    const identity = remembering(
      selectProvider({
        ...(provider === undefined ? {} : { provider: provider as ProviderName }),
        ...(values['identity-token'] === undefined ? {} : { identityToken: values['identity-token'] }),
        ...(values['kubernetes-token-path'] === undefined
          ? {}
          : { kubernetesTokenPath: values['kubernetes-token-path'] }),
        ...(values.audience === undefined ? {} : { audience: values.audience }),
      }),
      seen,
    );
    const client = new RegistryClient({
      keychain: keychainFrom(values, reference.registry),
      requestTimeoutMs: timeoutSeconds * 1000,
      userAgent: 'sigward-sign',
      registryEndpoints: testRegistryEndpoints(),
      ...insecureRegistriesFrom(values),
      ...(values['registry-ca'] === undefined
        ? {}
        : { ca: values['registry-ca'].map((f) => readFileOr(f, '--registry-ca')) }),
    });
    const progress = (line: string): void => io.err(`${line}\n`);
    progress(`Using the identity token from ${identity.source}`);
    const ctx: SignContext = {
      client,
      identity,
      ...(values.audience === undefined ? {} : { audience: values.audience }),
      services,
      trust,
      selfCheck: values['no-verify'] !== true,
      progress,
      timeoutMs: timeoutSeconds * 1000,
    };
    try {
      const outcome =
        command === 'sign'
          ? await signImage(ctx, { reference, format, recursive: values.recursive === true })
          : await attestImage(ctx, { reference, predicateType, predicate });
      if (values.bundle !== undefined)
        writeFileSync(values.bundle, `${outcome.bundleJson}\n`, { mode: 0o644 });
      report(outcome, io, command === 'sign' ? 'Signed' : 'Attested');
      return 0;
    } finally {
      await client.close();
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`sigward ${command}: ${scrub(error.message, seen)}\n\n${usage}`);
      return 2;
    }
    const code = error instanceof SigwardError ? ` [${error.code}]` : '';
    io.err(`sigward ${command}: FAILED${code}: ${scrub(describeError(error), seen)}\n`);
    return 1;
  }
}
