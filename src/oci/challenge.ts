// WWW-Authenticate parsing (RFC 9110 §11.6.1): one header may hold several challenges, each a scheme
// followed by auth-params (`realm="…", service=…`) or a token68. Registries send `Bearer realm=…,
// service=…, scope=…` or `Basic realm=…`.

export interface Challenge {
  /** Lower-case scheme: `bearer`, `basic`. */
  readonly scheme: string;
  /** Parameters with lower-case names, values unquoted. */
  readonly params: Readonly<Record<string, string>>;
}

const tokenChar = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

function parseOne(text: string, challenges: Challenge[]): void {
  let i = 0;
  const skip = (chars: RegExp): void => {
    while (i < text.length && chars.test(text[i] ?? '')) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < text.length && tokenChar.test(text[i] ?? '')) i++;
    return text.slice(start, i);
  };
  const quoted = (): string => {
    i++; // opening quote
    let value = '';
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') i++;
      value += text[i] ?? '';
      i++;
    }
    i++; // closing quote (or past the end when unterminated)
    return value;
  };

  while (i < text.length) {
    skip(/[\s,]/);
    if (i >= text.length) break;
    const scheme = token();
    if (scheme.length === 0) {
      // Not a challenge: skip to the next comma and try again.
      while (i < text.length && text[i] !== ',') i++;
      continue;
    }
    const params: Record<string, string> = {};
    for (;;) {
      const save = i;
      skip(/[ \t]/);
      const name = token();
      skip(/[ \t]/);
      const afterName = i;
      let value: string | undefined;
      if (name.length > 0 && text[i] === '=') {
        i++;
        skip(/[ \t]/);
        value = text[i] === '"' ? quoted() : token();
        // `name=` with nothing after is not an auth-param: it is a token68's padding (`abc==`).
        if (value.length === 0 && text[afterName + 1] !== '"') value = undefined;
      }
      if (value !== undefined) {
        params[name.toLowerCase()] = value;
        skip(/[ \t]/);
        if (text[i] === ',') {
          i++;
          continue;
        }
        break;
      }
      // A token68 credential (`Negotiate abc==`) or the start of the next challenge.
      i = save;
      if (Object.keys(params).length === 0) {
        skip(/[ \t]/);
        const start = i;
        skip(/[A-Za-z0-9\-._~+/]/);
        skip(/=/);
        if (i > start && (i >= text.length || /[\s,]/.test(text[i] ?? '')))
          params['token68'] = text.slice(start, i);
        else i = save;
      }
      break;
    }
    challenges.push({ scheme: scheme.toLowerCase(), params });
  }
}

/** Every challenge of one or more WWW-Authenticate header values, in order. */
export function parseChallenges(header: string | readonly string[] | undefined): Challenge[] {
  const challenges: Challenge[] = [];
  if (header === undefined) return challenges;
  for (const value of typeof header === 'string' ? [header] : header) parseOne(value, challenges);
  return challenges;
}

/** The challenge to answer: Bearer when offered (it scopes access), otherwise Basic. */
export function pickChallenge(challenges: readonly Challenge[]): Challenge | undefined {
  return challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
}
