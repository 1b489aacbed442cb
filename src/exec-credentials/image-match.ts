// The kubelet's image matching for credential providers (k8s.io/kubernetes pkg/credentialprovider
// keyring.go, URLsMatch), used both for a provider's `matchImages` and for the keys of a plugin's
// `auth` answer. A pattern and an image are schemeless URLs: host[:port][/path]. They match when
// the ports are equal (none = none), the host has as many dot-separated labels, each label matches
// its glob (Go's filepath.Match: `*`, `?`, `[a-z]`, `[^x]`, `\` escapes; a glob never spans a dot),
// and the pattern's path is a string prefix of the image's path (so `reg.io/team` also matches
// `reg.io/teams/x`, exactly as the kubelet does). Pure.

interface SchemelessUrl {
  readonly labels: readonly string[];
  readonly port: string;
  readonly path: string;
}

/** Parses `host[:port][/path]` as the kubelet does (url.Parse of "https://" + s); undefined if invalid. */
export function parseSchemelessUrl(text: string): SchemelessUrl | undefined {
  const withoutScheme = text.replace(/^https?:\/\//, '');
  if (withoutScheme.length === 0 || /[\s#?%@]/.test(withoutScheme)) return undefined;
  const slash = withoutScheme.indexOf('/');
  const authority = slash === -1 ? withoutScheme : withoutScheme.slice(0, slash);
  const path = slash === -1 ? '' : withoutScheme.slice(slash);
  let host = authority;
  let port = '';
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close === -1) return undefined;
    host = authority.slice(1, close);
    const rest = authority.slice(close + 1);
    if (rest !== '' && !/^:\d*$/.test(rest)) return undefined;
    port = rest.slice(1);
  } else {
    const colons = authority.split(':').length - 1;
    // Go's url.Parse refuses a port that is not digits; SplitHostPort keeps a many-colon host whole.
    if (colons === 1) {
      const colon = authority.indexOf(':');
      port = authority.slice(colon + 1);
      if (!/^\d*$/.test(port)) return undefined;
      host = authority.slice(0, colon);
    }
  }
  return { labels: host.split('.'), port, path };
}

/** Go's filepath.Match for one label (no `/` in it): undefined when the pattern is malformed. */
export function globMatches(pattern: string, name: string): boolean | undefined {
  return globRegExp(pattern)?.test(name);
}

/** A label glob as a RegExp, built once; undefined when the pattern is malformed. */
function globRegExp(pattern: string): RegExp | undefined {
  let source = '';
  const chars = [...pattern];
  const literal = (c: string): string => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const inClass = (c: string): string => c.replace(/[\]\\^-]/g, '\\$&');
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] ?? '';
    if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '\\') {
      const next = chars[++i];
      if (next === undefined) return undefined;
      source += literal(next);
    } else if (c === '[') {
      let j = i + 1;
      let negated = false;
      if (chars[j] === '^') {
        negated = true;
        j++;
      }
      let ranges = '';
      let count = 0;
      for (;;) {
        let lo = chars[j];
        if (lo === undefined) return undefined;
        if (lo === ']' && count > 0) break;
        if (lo === '-' || lo === ']') return undefined;
        if (lo === '\\') lo = chars[++j];
        if (lo === undefined) return undefined;
        j++;
        let range = inClass(lo);
        if (chars[j] === '-') {
          let hi = chars[j + 1];
          if (hi === '\\') hi = chars[++j + 1];
          if (hi === undefined || hi === ']') return undefined;
          if (hi < lo) return undefined;
          range += `-${inClass(hi)}`;
          j += 2;
        }
        ranges += range;
        count++;
      }
      source += negated ? `[^/${ranges}]` : `[${ranges}]`;
      i = j;
    } else source += literal(c);
  }
  return new RegExp(`^${source}$`, 'u');
}

/** A pattern parsed once (a provider's `matchImages` at config load), matched against many images. */
export type ImagePattern = (image: string) => boolean;

/** Compiles a pattern; a malformed one matches nothing (as URLsMatch errs, and the kubelet skips it). */
export function compileImagePattern(pattern: string): ImagePattern {
  const glob = parseSchemelessUrl(pattern);
  const labels = glob?.labels.map(globRegExp) ?? [];
  if (glob === undefined || labels.some((label) => label === undefined)) return () => false;
  return (image) => {
    const target = parseSchemelessUrl(image);
    if (target === undefined) return false;
    if (glob.port !== target.port) return false;
    if (labels.length !== target.labels.length) return false;
    if (!target.path.startsWith(glob.path)) return false;
    return labels.every((label, i) => label?.test(target.labels[i] ?? '') === true);
  };
}

/** Does the image (a schemeless repository URL) match the pattern, by the kubelet's rules? */
export function urlsMatch(pattern: string, image: string): boolean {
  return compileImagePattern(pattern)(image);
}
