// One base error for the whole project. Callers branch on `code`, never on message text, and
// `details` holds only values that are safe to log or show to a user: never tokens, keys or secrets.

export type SafeDetails = Readonly<Record<string, string | number | boolean | undefined>>;

export class SigwardError extends Error {
  readonly code: string;
  readonly details: SafeDetails;

  constructor(code: string, message: string, options: { cause?: unknown; details?: SafeDetails } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SigwardError';
    this.code = code;
    this.details = options.details ?? {};
  }
}

/** The message of anything thrown, for places that must turn an unknown failure into words. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * A parser's message without the excerpt of the input it quotes: the `yaml` package's errors end with
 * the offending line and a caret, and that line may be a secret's value (a Secret beside the manifests,
 * a kubeconfig's token). The first line keeps the reason and the place (`… at line 4, column 13`).
 */
export function withoutExcerpt(message: string): string {
  return (message.split('\n')[0] ?? '').replace(/:\s*$/, '');
}

// What reads as words in a run of token characters, piece by piece (`/`, `-`, `_`, `=`, `+` part
// them): lower-case words (a version's digits allowed: `v2`, `ec2`), CamelCase
// (`GetAuthorizationToken`, `AWSCredentials`), numbers up to 12 digits (an account id), and any piece
// under 8 characters (a temporary directory's `kCCgxy`, an instance id's `0abc123`): too short to be a
// secret alone, while a token's pieces are long.
const readablePiece =
  /^(?:[a-z]+[0-9]{0,3}|(?:[A-Z]{0,4}[a-z]{2,})+[A-Z]{0,4}|[0-9]{1,12}|[A-Za-z0-9]{1,7})$/;
const envVarName = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/;
const digest = /^sha(?:256|384|512):[0-9a-f]{32,128}$/;
const readableRun = (run: string): boolean =>
  envVarName.test(run) ||
  digest.test(run) ||
  run.split(/[/_=+-]/).every((p) => p === '' || readablePiece.test(p));

/**
 * `"Secret":"…"`, `password: "…"`, `token="…"`: a quoted value under a credential's name (a credential
 * program's own JSON answer, an echoed request), cut up to its closing quote whatever it holds: a
 * short password with `@` or `!` in it is no token-like run.
 */
const quotedCredential =
  /\b((?:access_|refresh_|id_|identity|registry)?token|password|secret|auth)("?\s*[=:]\s*")(?:[^"\\]|\\.)*"/gi;
/** `Bearer …`, `Basic …`, `token=…`, `password: …`: a credential named as such, 8+ characters. */
const namedCredential =
  /\b(bearer\s+|basic\s+|(?:access_|refresh_|id_)?token\s*[=:]\s*|password\s*[=:]\s*|secret\s*[=:]\s*)"?[A-Za-z0-9._~+/=-]{8,}/gi;
const jwtShaped = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
const opaqueRun = /(?:sha(?:256|384|512):)?[A-Za-z0-9+/=_-]{16,}/g;

/** `scheme://user:password@`: credentials written into a URL (up to its last `@` before the path). */
const urlCredentials = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#]*@/gi;

/**
 * A text with every URL's user name and password cut (`https://[redacted]@host/…`): for a URL that came
 * from configuration (a TUF mirror) and for a library's message that quotes one.
 */
export function redactUrlCredentials(text: string): string {
  return text.replace(urlCredentials, '$1[redacted]@');
}

/** Whether a text holds a URL with a user name or password that redactUrlCredentials would cut. */
export function hasUrlCredentials(text: string): boolean {
  // search(), not test(): the pattern is global, and test() would carry its lastIndex to the next call.
  return text.search(urlCredentials) !== -1;
}

/**
 * The one redaction rule for text that goes into a message but came from elsewhere (a program's
 * output, a cloud SDK's error, a registry's or a Sigstore service's error body: any of them may echo
 * what it was sent). Cut: a URL's user name and password (`https://user:pw@host`); every given secret
 * (8+ characters); a quoted value under a credential's name (`"Secret":"…"`); what follows `Bearer`,
 * `Basic`, `token=`, `password:`, `secret=`; anything JWT-shaped; and every other run of 16+ token characters
 * (`A-Za-z0-9+/=_-`) unless it reads as words — lower-case words and paths (`credentialprovider`,
 * `/tmp/sigward-kCCgxy/token`), CamelCase, an environment variable's name (`AWS_ROLE_ARN`), short
 * numbers, or a digest (`sha256:…`). Dots, colons and spaces end a run, so host names, URLs and sentences stay whole.
 */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let out = redactUrlCredentials(text);
  for (const secret of secrets) if (secret.length >= 8) out = out.split(secret).join('[redacted]');
  return out
    .replace(quotedCredential, '$1$2[redacted]"')
    .replace(namedCredential, (match: string, prefix: string) =>
      // `Basic authentication required` is a sentence, not a credential.
      /^(?:bearer|basic)/i.test(prefix) && /^[a-z]+$/.test(match.slice(prefix.length))
        ? match
        : `${prefix}[redacted]`,
    )
    .replace(jwtShaped, '[redacted-jwt]')
    .replace(opaqueRun, (run) => (readableRun(run) ? run : '[redacted]'));
}
