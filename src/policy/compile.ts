// Policy resource → immutable CompiledPolicy, or the list of field-path errors that kube/ writes into
// the resource's Ready condition. Pure (no I/O): a Secret-held key stays a reference for the engine to
// resolve; a PEM key is parsed here so a bad key is a status error, not a runtime surprise.
//
//   compilePolicy(resource)        → { policy, errors }  policy.valid === (errors.length === 0)
//   compileTrustRoot(resource)     → { trustRoot, errors }
//   readyCondition(errors, gen, now) → the `Ready` status condition (reason Compiled | Invalid)
//   FieldError                     { field: 'spec.authorities[0].keyless.identities[1].subjectRegExp', message }
//
// An invalid policy is still returned (valid: false, no authorities): it keeps matching its images (every
// image, while an `images` entry itself is wrong), and evaluate.ts fails them with POLICY_INVALID in the
// policy's mode, so a typo never turns an enforcing policy into an allow-all.
import { createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { SigwardError, hasUrlCredentials } from '../errors.ts';
import { parseRepository } from '../oci/reference.ts';
import type { RepositoryName } from '../oci/reference.ts';
import type { CertificateIdentity } from '../sigstore/identity.ts';
import { compileCondition } from './conditions.ts';
import type { CompiledCondition } from './conditions.ts';
import { compileIdentity, matchIdentity } from './identity.ts';
import type { IdentityMatcher, IdentitySpec } from './identity.ts';
import { compileGlob, GLOB_MAX_LENGTH } from './match.ts';
import { PREDICATE_SHORT_NAMES, predicateTypeUri } from './predicate-types.ts';
import type { CompiledGlob } from './match.ts';
import {
  MULTI_ARCH_RULES,
  POLICY_API_VERSION,
  POLICY_KINDS,
  POLICY_MODES,
  PUBLIC_GOOD_TRUST_ROOT,
} from './types.ts';
import type { Condition, MultiArchRule, PolicyKind, PolicyMode } from './types.ts';

export interface FieldError {
  readonly field: string;
  readonly message: string;
}

/** Same shape as sigstore/verify-candidate's IdentityOutcome, so `match` plugs straight into an Authority. */
export type IdentityOutcome =
  | { readonly matched: true }
  | {
      readonly matched: false;
      readonly code: 'IDENTITY_ISSUER_MISMATCH' | 'IDENTITY_SUBJECT_MISMATCH' | 'IDENTITY_EXTENSION_MISMATCH';
      readonly reason: string;
    };

export interface CompiledIdentity {
  readonly spec: IdentitySpec;
  readonly matcher: IdentityMatcher;
  /** `subject "…" from issuer "…"`, regexps shown anchored. */
  readonly describe: string;
}

/** One required attestation of an authority. */
export interface CompiledAttestation {
  readonly name: string;
  /** The predicate type URI (short names resolved). */
  readonly predicateType: string;
  /** All must hold on one statement of this type; none = being there and signed is enough. */
  readonly conditions: readonly CompiledCondition[];
}

interface AuthorityBase {
  readonly name: string;
  /** Position in spec.authorities, for field paths. */
  readonly index: number;
  readonly trustRootRef: string;
  /** false = insecureIgnoreTlog. */
  readonly requireTlog: boolean;
  /** Non-empty: the authority is satisfied by these attestations, not by an image signature. */
  readonly attestations: readonly CompiledAttestation[];
}

export type KeySource =
  | { readonly source: 'data'; readonly publicKey: KeyObject }
  | {
      readonly source: 'secret';
      readonly name: string;
      readonly namespace: string | undefined;
      readonly key: string;
    };

export type CompiledAuthority =
  | (AuthorityBase & {
      readonly kind: 'keyless';
      readonly identities: readonly CompiledIdentity[];
      /** false = insecureIgnoreSCT. */
      readonly requireSct: boolean;
      /** Matches ANY identity; on mismatch, the reason of the closest one (same issuer first). */
      readonly match: (identity: CertificateIdentity) => IdentityOutcome;
      /** What it accepts, for messages: `subject "…" from issuer "…"` or `one of: …`. */
      readonly expected: string;
    })
  | (AuthorityBase & { readonly kind: 'key'; readonly key: KeySource; readonly expected: string });

export interface CompiledPolicy {
  readonly kind: PolicyKind;
  readonly name: string;
  /** ImagePolicy only. */
  readonly namespace?: string;
  /** `name` or `namespace/name`: how messages name it. */
  readonly displayName: string;
  readonly uid?: string;
  readonly generation: number;
  readonly valid: boolean;
  readonly errors: readonly FieldError[];
  /** Accepted, but probably a mistake (e.g. subjectRegExp `.*`); readyCondition shows them. */
  readonly warnings: readonly FieldError[];
  readonly images: readonly CompiledGlob[];
  readonly mode: PolicyMode;
  readonly authorities: readonly CompiledAuthority[];
  readonly threshold: number;
  readonly multiArch: MultiArchRule;
  readonly signatureRepository?: { readonly repository: RepositoryName; readonly pullSecret?: string };
}

export type CompiledTrustRootSource =
  | { readonly kind: 'public-good' }
  | { readonly kind: 'tuf'; readonly mirror: string; readonly root: string }
  | { readonly kind: 'inline'; readonly trustedRoot: string }
  | {
      readonly kind: 'configMap';
      readonly name: string;
      readonly namespace: string | undefined;
      readonly key: string;
    };

export interface CompiledTrustRoot {
  readonly name: string;
  readonly generation: number;
  readonly valid: boolean;
  readonly errors: readonly FieldError[];
  readonly source?: CompiledTrustRootSource;
}

export const LIMITS = {
  images: 256,
  authorities: 32,
  identities: 32,
  attestations: 16,
  conditions: 16,
  string: 4096,
  key: 16384,
  trustedRoot: 1048576,
} as const;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Collects errors; every reader returns undefined after recording what was wrong. */
class Checker {
  readonly errors: FieldError[] = [];
  /** Valid but probably not what was meant (over-broad identities): shown, never refused. */
  readonly warnings: FieldError[] = [];
  warn(field: string, message: string): void {
    if (this.warnings.length < 20) this.warnings.push({ field, message });
  }
  fail(field: string, message: string): undefined {
    if (this.errors.length < 100) this.errors.push({ field, message });
    return undefined;
  }
  object(v: unknown, field: string, known: readonly string[]): Json | undefined {
    if (!isObject(v)) return this.fail(field, 'must be an object');
    for (const k of Object.keys(v)) {
      if (known.includes(k)) continue;
      const near = nearestName(k, known);
      this.fail(
        `${field}.${k.slice(0, 100)}`,
        `unknown field${near === undefined ? '' : ` (did you mean \`${near}\`?)`}`,
      );
    }
    return v;
  }
  string(v: unknown, field: string, max: number = LIMITS.string): string | undefined {
    if (typeof v !== 'string') return this.fail(field, 'must be a string');
    if (v.length === 0) return this.fail(field, 'must not be empty');
    if (v.length > max) return this.fail(field, `must be at most ${max} characters`);
    return v;
  }
  optionalString(v: unknown, field: string, max?: number): string | undefined {
    return v === undefined ? undefined : this.string(v, field, max);
  }
  bool(v: unknown, field: string): boolean | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') return this.fail(field, 'must be true or false');
    return v;
  }
  array(v: unknown, field: string, max: number): readonly unknown[] | undefined {
    if (!Array.isArray(v)) return this.fail(field, 'must be a list');
    if (v.length === 0) return this.fail(field, 'must not be empty');
    if (v.length > max) return this.fail(field, `must have at most ${max} items`);
    return v;
  }
  oneOf<T extends string>(v: unknown, field: string, allowed: readonly T[], fallback: T): T {
    if (v === undefined) return fallback;
    if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
    const near = typeof v === 'string' ? nearestName(v, allowed) : undefined;
    this.fail(
      field,
      `must be one of ${allowed.join(', ')}${near === undefined ? '' : ` (did you mean \`${near}\`?)`}`,
    );
    return fallback;
  }
  name(v: unknown, field: string, pattern: RegExp, max: number): string | undefined {
    const s = this.string(v, field, max);
    if (s !== undefined && !pattern.test(s))
      return this.fail(field, 'must be a lower-case DNS name (a-z, 0-9, -)');
    return s;
  }
}

/**
 * The known field an unknown one most likely meant: the same name in another case, or the closest by
 * edit distance (at most a third of its length, and at least 2), so `subjectRegex` → `subjectRegExp`,
 * `identity` → `identities`; nothing when no name is close.
 */
export function nearestName(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  if (lower.length > 100) return undefined;
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (best === undefined || distance < best.distance) best = { name: candidate, distance };
  }
  const limit = Math.max(2, Math.ceil(lower.length / 3));
  return best !== undefined && best.distance <= limit ? best.name : undefined;
}

/** Levenshtein distance with adjacent transpositions (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const row = rows[i]!;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        row[j] = Math.min(row[j]!, rows[i - 2]![j - 2]! + 1);
    }
  return rows[a.length]![b.length]!;
}

const quoteValue = (v: string): string => JSON.stringify(v.length > 200 ? `${v.slice(0, 200)}…` : v);

function describeSpec(spec: IdentitySpec): string {
  const subject =
    spec.subject !== undefined
      ? `subject ${quoteValue(spec.subject)}`
      : `subject matching /^(?:${spec.subjectRegExp ?? ''})$/`;
  const issuer =
    spec.issuer !== undefined
      ? `issuer ${quoteValue(spec.issuer)}`
      : `issuer matching /^(?:${spec.issuerRegExp ?? ''})$/`;
  const ext = Object.keys(spec.extensions ?? {});
  return `${subject} from ${issuer}${ext.length === 0 ? '' : ` with ${ext.join(', ')}`}`;
}

/** Who signed, in the words of describeSpec: `subject "…" from issuer "…"`. */
export function describeFound(identity: {
  readonly issuer?: string | undefined;
  readonly subject?: string | undefined;
}): string {
  const s = identity.subject === undefined ? 'no subject' : `subject ${quoteValue(identity.subject)}`;
  const i = identity.issuer === undefined ? 'no issuer' : `issuer ${quoteValue(identity.issuer)}`;
  return `${s} from ${i}`;
}

function identityCheck(
  identities: readonly CompiledIdentity[],
): (identity: CertificateIdentity) => IdentityOutcome {
  return (identity) => {
    let best: IdentityOutcome | undefined;
    for (const id of identities) {
      const m = matchIdentity(id.matcher, identity);
      if (m.matched) return m;
      const issuerOk = identity.issuer !== undefined && id.matcher.issuer.test(identity.issuer);
      const subjectOk = identity.subject !== undefined && id.matcher.subject.test(identity.subject);
      const code = !issuerOk
        ? 'IDENTITY_ISSUER_MISMATCH'
        : !subjectOk
          ? 'IDENTITY_SUBJECT_MISMATCH'
          : 'IDENTITY_EXTENSION_MISMATCH';
      // The closest identity (issuer matched) explains the mismatch best.
      if (
        best === undefined ||
        (best.matched === false && best.code === 'IDENTITY_ISSUER_MISMATCH' && issuerOk)
      )
        best = { matched: false, code, reason: m.reason };
    }
    return best ?? { matched: false, code: 'IDENTITY_SUBJECT_MISMATCH', reason: 'no identity configured' };
  };
}

// Signers an identity should never accept: if a regexp takes all of these, it accepts anyone.
const STRANGERS = {
  issuer: ['https://evil.example', 'https://accounts.evil.example/o/1'],
  subject: ['https://evil.example/attacker', 'attacker@evil.example', 'x'],
} as const;
const EXTENSION_STRANGERS = ['https://evil.example/attacker/repo', 'refs/heads/evil', '0', 'x'];
const NOT_WHO: ReadonlySet<string> = new Set([
  'issuer',
  'issuerV1',
  'runnerEnvironment',
  'buildTrigger',
  'githubWorkflowTrigger',
  'sourceRepositoryRef',
  'githubWorkflowRef',
  'githubWorkflowName',
  'sourceRepositoryVisibilityAtSigning',
  'deploymentEnvironment',
]);
const UNESCAPED_DOT = /(^|[^\\])\.(com|io|dev|org|net|cloud|app|sh|example)\b/;
// `https://github.com/o/*` is a valid expression (any number of slashes), but meant as a glob.
const GLOB_SLASH_STAR = /\/\*(?![*?+{])/;

function lintIdentity(c: Checker, spec: IdentitySpec, matcher: IdentityMatcher, at: string): void {
  // An extension naming the repository, owner or workflow (and refusing strangers) already says who may
  // sign, so `subjectRegExp: .*` beside it is a choice, not an accident. The issuer, runner, trigger,
  // ref, visibility or environment alone do not: anyone on that platform can match them.
  const constrained = matcher.extensions.some(
    ([name, m]) => !NOT_WHO.has(name) && !EXTENSION_STRANGERS.every((v) => m.test(v)),
  );
  for (const part of ['issuer', 'subject'] as const) {
    const pattern = part === 'issuer' ? spec.issuerRegExp : spec.subjectRegExp;
    if (pattern === undefined) continue;
    const field = `${at}.${part}RegExp`;
    if (STRANGERS[part].every((v) => matcher[part].test(v))) {
      if (part === 'issuer' || !constrained)
        c.warn(field, `accepts any ${part}: name who may sign (an exact ${part}, or a narrower expression)`);
    } else if (UNESCAPED_DOT.test(pattern))
      c.warn(field, `"." matches any character: write \\. for a literal dot`);
    else if (GLOB_SLASH_STAR.test(pattern))
      c.warn(field, '"/*" repeats the slash (a regular expression, not a glob): write "/.*" for any path');
  }
  // Fulcio names an OIDC issuer by its https URL: anything else never matches, or accepts too much.
  if (spec.issuer !== undefined && !/^https:\/\/[^\s/]+/.test(spec.issuer))
    c.warn(
      `${at}.issuer`,
      'is not an https URL: Fulcio certificates name their OIDC issuer by its https URL (e.g. https://token.actions.githubusercontent.com), so this never matches',
    );
  const anyIssuer = STRANGERS.issuer.every((v) => matcher.issuer.test(v));
  if (spec.issuerRegExp !== undefined && !anyIssuer && !/^\^?https:/.test(spec.issuerRegExp))
    c.warn(
      `${at}.issuerRegExp`,
      'does not start with https:, so it also accepts issuers that are not https URLs',
    );
  for (const [name, m] of matcher.extensions)
    if (spec.extensions?.[name]?.regexp !== undefined && EXTENSION_STRANGERS.every((v) => m.test(v)))
      c.warn(
        `${at}.extensions.${name}.regexp`,
        'accepts any value: it constrains nothing (remove it, or narrow it)',
      );
}

/** A regular expression written as a glob (`*`, `**`): RE2 refuses it; say what to write instead. */
function globHint(spec: IdentitySpec): string {
  const patterns = [
    spec.issuerRegExp,
    spec.subjectRegExp,
    ...Object.values(spec.extensions ?? {}).map((e) => e.regexp),
  ];
  return patterns.some((p) => p !== undefined && /(^\*|\*\*)/.test(p))
    ? ' (identities take regular expressions, not globs: write ".*" for "anything", not "*" or "**")'
    : '';
}

function compileKeyless(
  c: Checker,
  v: unknown,
  path: string,
): Omit<Extract<CompiledAuthority, { kind: 'keyless' }>, keyof AuthorityBase | 'kind'> | undefined {
  const o = c.object(v, path, ['identities', 'insecureIgnoreSCT']);
  if (o === undefined) return undefined;
  const list = c.array(o['identities'], `${path}.identities`, LIMITS.identities);
  const requireSct = c.bool(o['insecureIgnoreSCT'], `${path}.insecureIgnoreSCT`) !== true;
  const identities: CompiledIdentity[] = [];
  list?.forEach((raw, i) => {
    const at = `${path}.identities[${i}]`;
    const id = c.object(raw, at, ['issuer', 'issuerRegExp', 'subject', 'subjectRegExp', 'extensions']);
    if (id === undefined) return;
    let bad = false;
    for (const k of ['issuer', 'issuerRegExp', 'subject', 'subjectRegExp'])
      if (id[k] !== undefined && c.string(id[k], `${at}.${k}`) === undefined) bad = true;
    // No prototype: an extension named `__proto__` must stay a (refused) key, not vanish.
    const extensions: Record<string, { exact?: string; regexp?: string }> = Object.create(null);
    if (id['extensions'] !== undefined) {
      const ext = isObject(id['extensions'])
        ? id['extensions']
        : c.fail(`${at}.extensions`, 'must be an object');
      for (const [name, m] of Object.entries(ext ?? {})) {
        const mo = c.object(m, `${at}.extensions.${name.slice(0, 100)}`, ['exact', 'regexp']);
        if (mo === undefined) {
          bad = true;
          continue;
        }
        const exact = c.optionalString(mo['exact'], `${at}.extensions.${name}.exact`);
        const regexp = c.optionalString(mo['regexp'], `${at}.extensions.${name}.regexp`);
        extensions[name] = {
          ...(exact === undefined ? {} : { exact }),
          ...(regexp === undefined ? {} : { regexp }),
        };
      }
    }
    if (bad) return;
    const spec: IdentitySpec = {
      ...(typeof id['issuer'] === 'string' ? { issuer: id['issuer'] } : {}),
      ...(typeof id['issuerRegExp'] === 'string' ? { issuerRegExp: id['issuerRegExp'] } : {}),
      ...(typeof id['subject'] === 'string' ? { subject: id['subject'] } : {}),
      ...(typeof id['subjectRegExp'] === 'string' ? { subjectRegExp: id['subjectRegExp'] } : {}),
      ...(Object.keys(extensions).length === 0 ? {} : { extensions }),
    };
    try {
      const matcher = compileIdentity(spec, at);
      identities.push({ spec, matcher, describe: describeSpec(spec) });
      lintIdentity(c, spec, matcher, at);
    } catch (error) {
      if (!(error instanceof SigwardError)) throw error;
      const field = typeof error.details['field'] === 'string' ? error.details['field'] : at;
      const message = error.message.startsWith(`${field}: `)
        ? error.message.slice(field.length + 2)
        : error.message;
      // A 4 KiB expression quoted twice is not a status message: keep the start and the reason.
      const short = message.length > 600 ? `${message.slice(0, 300)} … ${message.slice(-200)}` : message;
      c.fail(field, `${short}${globHint(spec)}`);
    }
  });
  if (list === undefined || identities.length !== list.length) return undefined;
  const expected =
    identities.length === 1
      ? (identities[0]?.describe ?? '')
      : `one of: ${identities.map((i) => i.describe).join('; ')}`;
  return { identities, requireSct, match: identityCheck(identities), expected };
}

function compileKey(
  c: Checker,
  v: unknown,
  path: string,
  policyNamespace: string | undefined,
): KeySource | undefined {
  const o = c.object(v, path, ['data', 'secretRef']);
  if (o === undefined) return undefined;
  if ((o['data'] === undefined) === (o['secretRef'] === undefined))
    return c.fail(path, 'set exactly one of data or secretRef');
  if (o['data'] !== undefined) {
    const pem = c.string(o['data'], `${path}.data`, LIMITS.key);
    if (pem === undefined) return undefined;
    if (!pem.includes('-----BEGIN PUBLIC KEY-----'))
      return c.fail(`${path}.data`, 'must be a PEM public key (-----BEGIN PUBLIC KEY-----)');
    try {
      const publicKey = createPublicKey({ key: pem, format: 'pem' });
      return { source: 'data', publicKey };
    } catch (error) {
      return c.fail(
        `${path}.data`,
        `not a readable public key: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  const ref = c.object(o['secretRef'], `${path}.secretRef`, ['name', 'namespace', 'key']);
  if (ref === undefined) return undefined;
  const name = c.name(ref['name'], `${path}.secretRef.name`, DNS_SUBDOMAIN, 253);
  let namespace =
    ref['namespace'] === undefined
      ? undefined
      : c.name(ref['namespace'], `${path}.secretRef.namespace`, DNS_LABEL, 63);
  if (policyNamespace !== undefined) {
    // An ImagePolicy speaks for its namespace only: it may not read another namespace's Secrets.
    if (namespace !== undefined && namespace !== policyNamespace)
      return c.fail(
        `${path}.secretRef.namespace`,
        `an ImagePolicy may only use Secrets of its own namespace (${policyNamespace})`,
      );
    namespace = policyNamespace;
  }
  const key = ref['key'] === undefined ? 'cosign.pub' : c.string(ref['key'], `${path}.secretRef.key`, 253);
  if (key !== undefined && !SECRET_KEY.test(key))
    return c.fail(`${path}.secretRef.key`, 'must be a Secret data key (letters, digits, - _ .)');
  if (name === undefined || key === undefined || (ref['namespace'] !== undefined && namespace === undefined))
    return undefined;
  return { source: 'secret', name, namespace, key };
}

function compileAttestations(c: Checker, v: unknown, path: string): CompiledAttestation[] {
  if (v === undefined) return [];
  const compiled: CompiledAttestation[] = [];
  const names = new Set<string>();
  c.array(v, path, LIMITS.attestations)?.forEach((a, i) => {
    const at = `${path}[${i}]`;
    const o = c.object(a, at, ['name', 'predicateType', 'conditions']);
    if (o === undefined) return;
    const name = c.name(o['name'], `${at}.name`, DNS_LABEL, 63);
    if (name !== undefined) {
      if (names.has(name)) c.fail(`${at}.name`, `duplicate attestation name "${name}"`);
      names.add(name);
    }
    const typeText = c.string(o['predicateType'], `${at}.predicateType`, 1024);
    const predicateType = typeText === undefined ? undefined : predicateTypeUri(typeText);
    if (typeText !== undefined && predicateType === undefined)
      c.fail(`${at}.predicateType`, `must be a URI or one of ${PREDICATE_SHORT_NAMES.join(', ')}`);
    const conditions: CompiledCondition[] = [];
    if (o['conditions'] !== undefined)
      c.array(o['conditions'], `${at}.conditions`, LIMITS.conditions)?.forEach((e, j) => {
        const expression = c.string(e, `${at}.conditions[${j}]`, LIMITS.string);
        if (expression === undefined) return;
        const condition = compileCondition(expression);
        if (typeof condition === 'string') c.fail(`${at}.conditions[${j}]`, condition);
        else conditions.push(condition);
      });
    if (name !== undefined && predicateType !== undefined) compiled.push({ name, predicateType, conditions });
  });
  return compiled;
}

function compileAuthority(
  c: Checker,
  v: unknown,
  index: number,
  seen: Set<string>,
  policyNamespace: string | undefined,
): CompiledAuthority | undefined {
  const path = `spec.authorities[${index}]`;
  const o = c.object(v, path, [
    'name',
    'keyless',
    'key',
    'trustRootRef',
    'insecureIgnoreTlog',
    'attestations',
  ]);
  if (o === undefined) return undefined;
  const name = c.name(o['name'], `${path}.name`, DNS_LABEL, 63);
  if (name !== undefined) {
    if (seen.has(name)) c.fail(`${path}.name`, `duplicate authority name "${name}"`);
    seen.add(name);
  }
  const trustRootRef =
    o['trustRootRef'] === undefined
      ? PUBLIC_GOOD_TRUST_ROOT
      : c.name(o['trustRootRef'], `${path}.trustRootRef`, DNS_SUBDOMAIN, 253);
  const requireTlog = c.bool(o['insecureIgnoreTlog'], `${path}.insecureIgnoreTlog`) !== true;
  const attestations = compileAttestations(c, o['attestations'], `${path}.attestations`);
  if ((o['keyless'] === undefined) === (o['key'] === undefined)) {
    c.fail(path, 'set exactly one of keyless or key');
    return undefined;
  }
  if (o['keyless'] !== undefined) {
    const keyless = compileKeyless(c, o['keyless'], `${path}.keyless`);
    if (keyless === undefined || name === undefined || trustRootRef === undefined) return undefined;
    return { kind: 'keyless', name, index, trustRootRef, requireTlog, attestations, ...keyless };
  }
  const key = compileKey(c, o['key'], `${path}.key`, policyNamespace);
  if (key === undefined || name === undefined || trustRootRef === undefined) return undefined;
  const expected =
    key.source === 'data'
      ? `a signature by the public key of authority ${name}`
      : key.namespace === undefined
        ? `a signature by the public key in Secret ${key.name} (${key.key}) in sigward's namespace`
        : `a signature by the public key in Secret ${key.namespace}/${key.name} (${key.key})`;
  return { kind: 'key', name, index, trustRootRef, requireTlog, attestations, key, expected };
}

function metadataOf(
  c: Checker,
  resource: Json,
  namespaced: boolean,
): { name: string; namespace?: string; uid?: string; generation: number } {
  const meta = isObject(resource['metadata'])
    ? resource['metadata']
    : (c.fail('metadata', 'must be an object') ?? {});
  const name =
    c.name(meta['name'], 'metadata.name', DNS_SUBDOMAIN, 253) ?? String(meta['name'] ?? '?').slice(0, 253);
  let namespace: string | undefined;
  if (namespaced) namespace = c.name(meta['namespace'], 'metadata.namespace', DNS_LABEL, 63) ?? '?';
  const generation =
    typeof meta['generation'] === 'number' && Number.isSafeInteger(meta['generation'])
      ? meta['generation']
      : 0;
  const uid = typeof meta['uid'] === 'string' ? meta['uid'] : undefined;
  return {
    name,
    ...(namespace === undefined ? {} : { namespace }),
    ...(uid === undefined ? {} : { uid }),
    generation,
  };
}

// A policy whose `images` cannot be read might have meant any image: while it is wrong it claims every
// image, so they fail with POLICY_INVALID in its mode instead of slipping through as NO_POLICY.
const CLAIM_ALL = compileGlob('**');
const CLAIMS_ALL_NOTE = 'until this is fixed the policy claims every image and fails it with POLICY_INVALID';

function compileImages(c: Checker, value: unknown): readonly CompiledGlob[] {
  const images: CompiledGlob[] = [];
  const errorsBefore = c.errors.length;
  c.array(value, 'spec.images', LIMITS.images)?.forEach((g, i) => {
    const glob = c.string(g, `spec.images[${i}]`, GLOB_MAX_LENGTH);
    if (glob === undefined) return;
    try {
      images.push(compileGlob(glob));
    } catch (error) {
      if (!(error instanceof SigwardError)) throw error;
      c.fail(`spec.images[${i}]`, error.message);
    }
  });
  if (c.errors.length === errorsBefore) return images;
  for (let i = errorsBefore; i < c.errors.length; i++) {
    const e = c.errors[i];
    if (e !== undefined) c.errors[i] = { field: e.field, message: `${e.message} (${CLAIMS_ALL_NOTE})` };
  }
  return [CLAIM_ALL];
}

/** Compiles a ClusterImagePolicy or ImagePolicy as read from the API or YAML. Never throws on input. */
export function compilePolicy(resource: unknown): {
  policy: CompiledPolicy;
  errors: readonly FieldError[];
  warnings: readonly FieldError[];
} {
  const c = new Checker();
  const r: Json = isObject(resource) ? resource : (c.fail('', 'a policy must be an object') ?? {});
  if (r['apiVersion'] !== POLICY_API_VERSION) c.fail('apiVersion', `must be ${POLICY_API_VERSION}`);
  const kind = c.oneOf(r['kind'], 'kind', POLICY_KINDS, 'ClusterImagePolicy');
  if (r['kind'] === undefined) c.fail('kind', `must be one of ${POLICY_KINDS.join(', ')}`);
  const meta = metadataOf(c, r, kind === 'ImagePolicy');
  const spec =
    c.object(r['spec'], 'spec', [
      'images',
      'mode',
      'authorities',
      'threshold',
      'multiArch',
      'signatureRepository',
    ]) ?? {};
  const images = compileImages(c, spec['images']);
  const mode = c.oneOf(spec['mode'], 'spec.mode', POLICY_MODES, 'enforce');
  const multiArch = c.oneOf(spec['multiArch'], 'spec.multiArch', MULTI_ARCH_RULES, 'digest');
  const authorities: CompiledAuthority[] = [];
  const list = c.array(spec['authorities'], 'spec.authorities', LIMITS.authorities);
  const seen = new Set<string>();
  list?.forEach((a, i) => {
    const compiled = compileAuthority(c, a, i, seen, meta.namespace);
    if (compiled !== undefined) authorities.push(compiled);
  });
  let threshold = 1;
  if (spec['threshold'] !== undefined) {
    const t = spec['threshold'];
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 1)
      c.fail('spec.threshold', 'must be an integer of at least 1');
    else if (list !== undefined && t > list.length)
      c.fail(
        'spec.threshold',
        `is ${t} but there are only ${list.length} authorities (it counts distinct authorities, not signatures)`,
      );
    else threshold = t;
  }
  let signatureRepository: CompiledPolicy['signatureRepository'];
  if (spec['signatureRepository'] !== undefined) {
    const s = c.object(spec['signatureRepository'], 'spec.signatureRepository', [
      'repository',
      'pullSecretRef',
    ]);
    const repo = c.string(s?.['repository'], 'spec.signatureRepository.repository', 255);
    let pullSecret: string | undefined;
    if (s?.['pullSecretRef'] !== undefined) {
      const ref = c.object(s['pullSecretRef'], 'spec.signatureRepository.pullSecretRef', ['name']);
      pullSecret = c.name(ref?.['name'], 'spec.signatureRepository.pullSecretRef.name', DNS_SUBDOMAIN, 253);
    }
    if (repo !== undefined) {
      try {
        signatureRepository = {
          repository: parseRepository(repo),
          ...(pullSecret === undefined ? {} : { pullSecret }),
        };
      } catch (error) {
        c.fail('spec.signatureRepository.repository', error instanceof Error ? error.message : String(error));
      }
    }
  }
  const warnings: readonly FieldError[] = Object.freeze([...c.warnings]);
  const errors: readonly FieldError[] = Object.freeze([...c.errors]);
  const valid = errors.length === 0;
  const policy: CompiledPolicy = deepFreeze({
    kind,
    ...meta,
    displayName: meta.namespace === undefined ? meta.name : `${meta.namespace}/${meta.name}`,
    valid,
    errors,
    warnings,
    images,
    mode,
    authorities: valid ? authorities : [],
    threshold,
    multiArch,
    ...(signatureRepository === undefined ? {} : { signatureRepository }),
  });
  return { policy, errors, warnings };
}

/** Compiles a TrustRoot. Never throws on input. */
export function compileTrustRoot(resource: unknown): {
  trustRoot: CompiledTrustRoot;
  errors: readonly FieldError[];
} {
  const c = new Checker();
  const r: Json = isObject(resource) ? resource : (c.fail('', 'a TrustRoot must be an object') ?? {});
  if (r['apiVersion'] !== POLICY_API_VERSION) c.fail('apiVersion', `must be ${POLICY_API_VERSION}`);
  if (r['kind'] !== 'TrustRoot') c.fail('kind', 'must be TrustRoot');
  const meta = metadataOf(c, r, false);
  const spec = c.object(r['spec'], 'spec', ['publicGood', 'tuf', 'trustedRoot', 'configMapRef']) ?? {};
  const sources = ['publicGood', 'tuf', 'trustedRoot', 'configMapRef'].filter((k) => spec[k] !== undefined);
  let source: CompiledTrustRootSource | undefined;
  if (sources.length !== 1) c.fail('spec', 'set exactly one of publicGood, tuf, trustedRoot or configMapRef');
  else if (meta.name === PUBLIC_GOOD_TRUST_ROOT && sources[0] !== 'publicGood')
    c.fail('spec', `the TrustRoot named ${PUBLIC_GOOD_TRUST_ROOT} must use spec.publicGood`);
  else if (sources[0] === 'publicGood') {
    if (c.object(spec['publicGood'], 'spec.publicGood', []) !== undefined) source = { kind: 'public-good' };
  } else if (sources[0] === 'tuf') {
    const t = c.object(spec['tuf'], 'spec.tuf', ['mirror', 'root']);
    const mirror = c.string(t?.['mirror'], 'spec.tuf.mirror', 2048);
    const root = c.string(t?.['root'], 'spec.tuf.root', LIMITS.trustedRoot);
    if (mirror !== undefined && !/^https?:\/\/[^\s/]+/.test(mirror))
      c.fail('spec.tuf.mirror', 'must be an http(s) URL');
    else if (mirror !== undefined && hasUrlCredentials(mirror))
      c.fail(
        'spec.tuf.mirror',
        'must not carry a user name or password (sigward cannot send them to a TUF mirror, and never shows them)',
      );
    else if (root !== undefined && !isJsonObject(root))
      c.fail('spec.tuf.root', 'must be the JSON text of a TUF root.json');
    else if (mirror !== undefined && root !== undefined) source = { kind: 'tuf', mirror, root };
  } else if (sources[0] === 'trustedRoot') {
    const text = c.string(spec['trustedRoot'], 'spec.trustedRoot', LIMITS.trustedRoot);
    if (text !== undefined) {
      try {
        if (!isObject(JSON.parse(text)))
          c.fail('spec.trustedRoot', 'must be a JSON object (trusted_root.json)');
        else source = { kind: 'inline', trustedRoot: text };
      } catch (error) {
        c.fail('spec.trustedRoot', `is not JSON: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  } else {
    const ref = c.object(spec['configMapRef'], 'spec.configMapRef', ['name', 'namespace', 'key']);
    const name = c.name(ref?.['name'], 'spec.configMapRef.name', DNS_SUBDOMAIN, 253);
    const namespace =
      ref?.['namespace'] === undefined
        ? undefined
        : c.name(ref['namespace'], 'spec.configMapRef.namespace', DNS_LABEL, 63);
    const key =
      ref?.['key'] === undefined ? 'trusted_root.json' : c.string(ref['key'], 'spec.configMapRef.key', 253);
    if (name !== undefined && key !== undefined) source = { kind: 'configMap', name, namespace, key };
  }
  const errors: readonly FieldError[] = Object.freeze([...c.errors]);
  const valid = errors.length === 0;
  return {
    trustRoot: Object.freeze({
      name: meta.name,
      generation: meta.generation,
      valid,
      errors,
      ...(valid && source ? { source } : {}),
    }),
    errors,
  };
}

/** The built-in TrustRoot `public-good`, for when no resource of that name exists. */
export const PUBLIC_GOOD: CompiledTrustRoot = Object.freeze<CompiledTrustRoot>({
  name: PUBLIC_GOOD_TRUST_ROOT,
  generation: 0,
  valid: true,
  errors: [],
  source: { kind: 'public-good' },
});

/**
 * The Ready condition for a resource's status: True/Compiled, or False/Invalid naming each bad field.
 * Warnings (a valid but over-broad identity) keep it True with reason CompiledWithWarnings.
 */
export function readyCondition(
  errors: readonly FieldError[],
  generation: number,
  now: Date,
  warnings: readonly FieldError[] = [],
): Condition {
  const ok = errors.length === 0;
  const list = (items: readonly FieldError[]): string =>
    items
      .slice(0, 10)
      .map((e) => (e.field === '' ? e.message : `${e.field}: ${e.message}`))
      .join('; ') + (items.length > 10 ? `; and ${items.length - 10} more` : '');
  const message = !ok
    ? list(errors)
    : warnings.length > 0
      ? `compiled, with warnings: ${list(warnings)}`
      : 'compiled';
  return {
    type: 'Ready',
    status: ok ? 'True' : 'False',
    reason: !ok ? 'Invalid' : warnings.length > 0 ? 'CompiledWithWarnings' : 'Compiled',
    message: message.length > 32768 ? `${message.slice(0, 32767)}…` : message,
    observedGeneration: generation,
    lastTransitionTime: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
}

function isJsonObject(text: string): boolean {
  try {
    return isObject(JSON.parse(text));
  } catch {
    return false;
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  // KeyObjects and RE2 matchers are immutable already; freezing them would break their internals.
  if (!(Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype)) return value;
  for (const v of Object.values(value)) deepFreeze(v);
  return Object.freeze(value);
}
