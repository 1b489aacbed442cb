// Docker credential helpers (`credHelpers` and `credsStore` of a docker config FILE): the
// `docker-credential-<name> get` protocol as docker, crane and cosign speak it. The server URL goes
// on stdin; stdout is `{"ServerURL","Username","Secret"}`; the username `<token>` means Secret is an
// identity (refresh) token; a helper that has nothing for the registry says "credentials not found in
// native keychain" and the registry is tried anonymously. A helper runs only when a registry asks for
// credentials (a 401), its answer is kept a short while, and nothing it printed on success is ever
// shown: errors name the helper, the registry and why, with token-like runs redacted.
import { SigwardError } from '../errors.ts';
import type { ExchangedCredential, Keychain, ObtainedCredential } from '../oci/auth.ts';
import { dockerConfigKeychain, type DockerConfig } from '../oci/credentials.ts';
import { ExpiringAnswers } from '../oci/expiring-answers.ts';
import { DOCKER_HUB } from '../oci/reference.ts';
import { describeOutcome, runProgram, safeExcerpt } from './run-program.ts';

export interface DockerCredentialHelpersOptions {
  /** The environment helpers run with (PATH finds them). Default: this process's. */
  readonly env?: NodeJS.ProcessEnv;
  /** Bound on one helper run. Default 20 s. */
  readonly timeoutMs?: number;
  /** Largest answer read. Default 64 KiB (an answer is one small JSON object). */
  readonly maxOutputBytes?: number;
  /** How long an answer is reused. Default 5 min; a registry refusing it asks the helper again. */
  readonly reuseMs?: number;
  /** Answers kept at most. Default 256. */
  readonly maxEntries?: number;
  readonly now?: () => number;
}

/** What docker-credential-helpers prints when it has nothing for a server (its ErrCredentialsNotFound). */
const notFound = 'credentials not found in native keychain';

/** The server URL docker asks a helper about: Docker Hub's historical key, else the registry host. */
export function helperServerUrl(registry: string): string {
  return registry === DOCKER_HUB ? 'https://index.docker.io/v1/' : registry;
}

export class DockerCredentialHelpers {
  readonly #env: NodeJS.ProcessEnv;
  readonly #timeoutMs: number;
  readonly #maxOutputBytes: number;
  readonly #reuseMs: number;
  readonly #answers: ExpiringAnswers<readonly ObtainedCredential[]>;

  constructor(options: DockerCredentialHelpersOptions = {}) {
    this.#env = options.env ?? process.env;
    this.#timeoutMs = options.timeoutMs ?? 20_000;
    this.#maxOutputBytes = options.maxOutputBytes ?? 64 * 1024;
    this.#reuseMs = options.reuseMs ?? 5 * 60_000;
    this.#answers = new ExpiringAnswers({
      maxEntries: options.maxEntries ?? 256,
      ...(options.now === undefined ? {} : { now: options.now }),
    });
  }

  /**
   * The lazy credential for one registry through one helper. `namedBy` says which configuration asked
   * for the helper (`credHelpers["reg.io"] in ~/.docker/config.json`), for errors.
   */
  credential(helper: string, registry: string, namedBy?: string): ExchangedCredential {
    const serverUrl = helperServerUrl(registry);
    return {
      kind: 'exchange',
      id: `docker-credential-${helper}:${serverUrl}`,
      obtain: ({ refresh }) => this.get(helper, serverUrl, refresh, namedBy),
    };
  }

  /** The helper's answer for a server: held, or one run shared by every caller meanwhile. */
  async get(
    helper: string,
    serverUrl: string,
    refresh = false,
    namedBy?: string,
  ): Promise<readonly ObtainedCredential[]> {
    const key = `${helper}\n${serverUrl}`;
    if (refresh) this.#answers.forget(key);
    return (
      this.#answers.kept(key) ??
      this.#answers.shared(key, async () => {
        const answer = await this.#run(helper, serverUrl, namedBy);
        // Kept once per run, not once per caller that waited for it.
        this.#answers.keep(key, answer, this.#answers.now() + this.#reuseMs);
        return answer;
      })
    );
  }

  async #run(helper: string, serverUrl: string, namedBy?: string): Promise<readonly ObtainedCredential[]> {
    const program = `docker-credential-${helper}`;
    const fail = (why: string): SigwardError =>
      new SigwardError('REGISTRY_UNAUTHORIZED', `${program} gave no credentials for ${serverUrl}: ${why}`, {
        details: { helper: program, registry: serverUrl },
      });
    const outcome = await runProgram({
      command: program,
      args: ['get'],
      stdin: serverUrl,
      env: this.#env,
      timeoutMs: this.#timeoutMs,
      maxOutputBytes: this.#maxOutputBytes,
    });
    if (outcome.kind === 'not-started' && outcome.reason === 'ENOENT') {
      const asked = namedBy === undefined ? '' : ` (named by ${namedBy}: install it or remove the entry)`;
      throw fail(`${program} is not on PATH${asked}`);
    }
    if (outcome.kind !== 'exited') throw fail(describeOutcome(outcome, this.#timeoutMs));
    const stdout = outcome.stdout.toString('utf8').trim();
    if (outcome.code !== 0) {
      // Helpers print their error on stdout (docker-credential-helpers' convention), some on stderr.
      if (stdout === notFound) return [];
      const said = safeExcerpt(stdout) || safeExcerpt(outcome.stderr);
      throw fail(`exit status ${outcome.code}${said === '' ? '' : `: ${said}`}`);
    }
    return parseHelperAnswer(stdout, fail);
  }
}

/** Reads a helper's answer. Never quotes it: it holds the secret. */
function parseHelperAnswer(text: string, fail: (why: string) => SigwardError): readonly ObtainedCredential[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw fail('its answer is not JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw fail('its answer is not a JSON object');
  }
  const { Username: username, Secret: secret } = body as Record<string, unknown>;
  if (typeof username !== 'string' || typeof secret !== 'string') {
    throw fail('its answer lacks the string fields Username and Secret');
  }
  if (secret === '') return [];
  if (username === '<token>') return [{ credential: { kind: 'identity-token', identityToken: secret } }];
  return [{ credential: { kind: 'basic', username, password: secret } }];
}

/**
 * The keychain of a docker config FILE, as docker resolves it: a registry with a `credHelpers` entry
 * asks that helper only; else `credsStore`, when set, is asked; else the `auths` entries apply.
 * `source` names the file in errors.
 */
export function dockerConfigFileKeychain(
  config: DockerConfig,
  helpers: DockerCredentialHelpers,
  source = 'the docker config',
): Keychain {
  const auths = dockerConfigKeychain([config]);
  return {
    credentialsFor(registry, repository) {
      const host = registry.toLowerCase();
      const own = config.credHelpers.get(host);
      if (own !== undefined) return [helpers.credential(own, host, `credHelpers["${host}"] in ${source}`)];
      if (config.credsStore !== undefined)
        return [helpers.credential(config.credsStore, host, `credsStore in ${source}`)];
      return auths.credentialsFor(registry, repository);
    },
  };
}
