// sigstore/policy-controller's ClusterImagePolicy (policy.sigstore.dev, v1alpha1 and v1beta1) read
// as-is: translated field by field into sigward's own ClusterImagePolicy and compiled by compile.ts,
// so the webhook judges it with the one engine. Pure.
//
//   isPolicyControllerResource(r)        → true for any policy.sigstore.dev object
//   translatePolicyControllerPolicy(r)   → { policy: sigward ClusterImagePolicy, findings }
//   compilePolicyControllerPolicy(r)     → compilePolicy's shape; every `error` finding makes it invalid
//
// Nothing is silently ignored: each field sigward cannot honour is a finding naming the field. An
// `error` is a field sigward cannot honour as written (CUE/Rego policies, a KMS key, a
// Fulcio by URL, a static action…); most make the policy STRICTER in policy-controller, so dropping
// them would admit what it denies: the policy fails closed (POLICY_INVALID in its mode) until it is
// rewritten. A `warning` is honoured with a stated difference (a regexp made explicit about anchoring,
// a `match` that sigward does not narrow).
import { redactUrlCredentials } from '../errors.ts';
import { POLICY_API_VERSION, PUBLIC_GOOD_TRUST_ROOT } from './types.ts';
import type {
  AttestationSpec,
  AuthoritySpec,
  ImagePolicyResource,
  KeylessIdentitySpec,
  ObjectMetaSpec,
  SignatureRepositorySpec,
} from './types.ts';
import { compilePolicy } from './compile.ts';
import type { CompiledPolicy, FieldError } from './compile.ts';

export const POLICY_CONTROLLER_GROUP = 'policy.sigstore.dev';
export const POLICY_CONTROLLER_VERSIONS: readonly string[] = ['v1alpha1', 'v1beta1'];
/** Where the translation came from, on the translated policy (and in `sigward convert`'s output). */
export const CONVERTED_FROM_ANNOTATION = 'sigward.dev/converted-from';

const PUBLIC_FULCIO = new Set(['https://fulcio.sigstore.dev', 'https://fulcio.sigstore.dev/']);
const PUBLIC_REKOR = new Set(['https://rekor.sigstore.dev', 'https://rekor.sigstore.dev/']);

export interface TranslationFinding extends FieldError {
  readonly severity: 'error' | 'warning';
}

export interface Translation {
  /** A policy.sigward.dev/v1alpha1 ClusterImagePolicy (what `sigward convert` writes). */
  readonly policy: ImagePolicyResource & {
    readonly metadata: ObjectMetaSpec & { readonly annotations: Record<string, string> };
  };
  readonly findings: readonly TranslationFinding[];
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

export function isPolicyControllerResource(resource: unknown): boolean {
  const apiVersion = isObject(resource) ? resource['apiVersion'] : undefined;
  return typeof apiVersion === 'string' && apiVersion.startsWith(`${POLICY_CONTROLLER_GROUP}/`);
}

class Findings {
  readonly list: TranslationFinding[] = [];
  error(field: string, message: string): void {
    this.list.push({ field, message, severity: 'error' });
  }
  warn(field: string, message: string): void {
    this.list.push({ field, message, severity: 'warning' });
  }
  unknown(o: Json, field: string, known: readonly string[]): void {
    for (const k of Object.keys(o))
      if (!known.includes(k))
        this.error(
          `${field}.${k.slice(0, 100)}`,
          'not a policy-controller field sigward knows: not honoured',
        );
  }
}

/**
 * policy-controller (like cosign) matches identity regexps UNANCHORED (Go regexp.MatchString); sigward
 * anchors every expression. The translation keeps policy-controller's meaning: a side already
 * anchored (^ or $) or already open (.*) stays as it is, any other side gets .* — and `widened` says
 * so, since an open expression is usually broader than its author meant. With a `|` anywhere the whole
 * expression is wrapped (^a|b$ means "starts with a or ends with b").
 */
export function anchoredRegExp(pattern: string): { pattern: string; widened: boolean } {
  if (pattern.includes('|')) return { pattern: `.*(?:${pattern}).*`, widened: true };
  let core = pattern;
  let lead = '.*';
  let trail = '.*';
  if (core.startsWith('^')) {
    core = core.slice(1);
    lead = '';
  } else if (core.startsWith('.*')) lead = '';
  if (core.endsWith('$') && !core.endsWith('\\$')) {
    core = core.slice(0, -1);
    trail = '';
  } else if (core.endsWith('.*') && !core.endsWith('\\.*')) trail = '';
  if (lead === '' && trail === '') return { pattern: core, widened: false };
  return { pattern: `${lead}(?:${core})${trail}`, widened: true };
}

/**
 * policy-controller's image globs as sigward's (which name repositories, with `**` a whole segment):
 * a tag or digest at the end is dropped (the policy then covers every version: stricter), and a `**`
 * glued to a name at the start or end of the glob (`**demo**`, `ghcr.io/o/app**`) becomes the
 * sigward globs with the same reach. Anything else is left for compile.ts to judge.
 */
export function translateGlob(glob: string): { globs: string[]; note?: string } {
  let base = glob;
  let note: string | undefined;
  const at = base.indexOf('@');
  const lastSlash = base.lastIndexOf('/');
  const colon = base.indexOf(':', lastSlash + 1);
  const cut = at !== -1 ? at : lastSlash !== -1 && colon !== -1 ? colon : -1;
  if (cut !== -1) {
    note = `names a version (${base.slice(cut, cut + 20)}…): sigward globs name repositories, so the policy applies to every version of ${base.slice(0, cut)} (stricter)`;
    base = base.slice(0, cut);
  }
  const segments = base.split('/');
  const glued = (s: string): boolean => s.includes('**') && s !== '**';
  if (!segments.some(glued)) return { globs: [base], ...(note === undefined ? {} : { note }) };
  const first = segments[0]!;
  const last = segments[segments.length - 1]!;
  const middle = segments.slice(1, -1).some(glued);
  const leadGlued = first.startsWith('**') && first !== '**';
  const trailGlued = last.endsWith('**') && last !== '**';
  const inner = (s: string): string => s.replace(/\*\*/g, '*');
  if (middle || segments.some((s) => glued(s) && inner(s.replace(/^\*\*|\*\*$/g, '')).includes('**')))
    return { globs: [base], ...(note === undefined ? {} : { note }) };
  const parts = segments.map((s, i) => (glued(s) ? (i === 0 && leadGlued ? `**/${inner(s)}` : inner(s)) : s));
  const one = parts.join('/');
  const globs = trailGlued ? [one, `${one}/**`] : [one];
  const rewritten = `written as ${globs.map((g) => JSON.stringify(g)).join(' and ')} (sigward's ** spans whole path segments)`;
  return { globs, note: note === undefined ? rewritten : `${note}; ${rewritten}` };
}

function translateIdentities(f: Findings, value: unknown, at: string): KeylessIdentitySpec[] {
  if (value === undefined) {
    f.warn(
      `${at}.identities`,
      'no identities: policy-controller accepts any certificate from the Fulcio instance; translated as issuerRegExp and subjectRegExp ".*" (name who may sign)',
    );
    return [{ issuerRegExp: '.*', subjectRegExp: '.*' }];
  }
  if (!Array.isArray(value)) {
    f.error(`${at}.identities`, 'must be a list');
    return [];
  }
  return value.map((raw, i) => {
    const field = `${at}.identities[${i}]`;
    if (!isObject(raw)) {
      f.error(field, 'must be an object');
      return {};
    }
    f.unknown(raw, field, ['issuer', 'subject', 'issuerRegExp', 'subjectRegExp']);
    const id: { -readonly [K in keyof KeylessIdentitySpec]: KeylessIdentitySpec[K] } = {};
    for (const part of ['issuer', 'subject'] as const) {
      const exact = str(raw[part]);
      const regexp = str(raw[`${part}RegExp`]);
      if (exact !== undefined && regexp !== undefined)
        f.error(`${field}.${part}`, `set ${part} or ${part}RegExp, not both`);
      if (exact !== undefined) id[part] = exact;
      else if (regexp !== undefined) {
        const { pattern, widened } = anchoredRegExp(regexp);
        id[`${part}RegExp`] = pattern;
        if (widened)
          f.warn(
            `${field}.${part}RegExp`,
            `policy-controller matches it anywhere in the ${part}; translated as the anchored /^(?:${pattern})$/ — anchor it (^…$) if the whole ${part} was meant`,
          );
      } else {
        id[`${part}RegExp`] = '.*';
        f.warn(`${field}.${part}`, `not set: policy-controller accepts any ${part}; translated as ".*"`);
      }
    }
    return id;
  });
}

interface TrustRefs {
  refs: Map<string, string>;
}

function translateKey(f: Findings, value: unknown, at: string): AuthoritySpec['key'] | undefined {
  if (!isObject(value)) {
    f.error(at, 'must be an object');
    return undefined;
  }
  f.unknown(value, at, ['data', 'secretRef', 'kms', 'hashAlgorithm']);
  const hash = str(value['hashAlgorithm']);
  if (hash !== undefined && hash.toLowerCase() !== 'sha256')
    f.error(`${at}.hashAlgorithm`, `${hash}: sigward verifies key signatures over sha256 only: not honoured`);
  if (value['kms'] !== undefined) {
    f.error(
      `${at}.kms`,
      'KMS keys are not read by sigward: export the public key (cosign public-key --key KMS_URI) into key.data or a Secret',
    );
    return undefined;
  }
  const data = str(value['data']);
  if (data !== undefined) return { data };
  if (isObject(value['secretRef'])) {
    const name = str(value['secretRef']['name']);
    const namespace = str(value['secretRef']['namespace']);
    f.warn(
      `${at}.secretRef`,
      "sigward reads the Secret's data key cosign.pub (policy-controller takes its first entry), in sigward's own namespace unless one is named",
    );
    return {
      secretRef: {
        ...(name === undefined ? {} : { name }),
        ...(namespace === undefined ? {} : { namespace }),
      },
    };
  }
  f.error(at, 'set data or secretRef');
  return undefined;
}

function noteTrustRoot(trust: TrustRefs, field: string, value: unknown): void {
  const ref = str(value);
  if (ref === undefined) return;
  trust.refs.set(field, ref);
}

function translateKeyless(
  f: Findings,
  value: unknown,
  at: string,
  trust: TrustRefs,
): AuthoritySpec['keyless'] | undefined {
  if (!isObject(value)) {
    f.error(at, 'must be an object');
    return undefined;
  }
  f.unknown(value, at, ['url', 'identities', 'ca-cert', 'trustRootRef', 'insecureIgnoreSCT']);
  noteTrustRoot(trust, `${at}.trustRootRef`, value['trustRootRef']);
  const url = str(value['url']);
  if (url !== undefined && !PUBLIC_FULCIO.has(url) && value['trustRootRef'] === undefined)
    f.error(
      `${at}.url`,
      `${redactUrlCredentials(url)}: sigward trusts a Fulcio through its certificate chain in a TrustRoot, not its URL: set trustRootRef to a sigward TrustRoot holding that instance's trusted_root.json`,
    );
  if (value['ca-cert'] !== undefined)
    f.error(
      `${at}.ca-cert`,
      'not honoured: put the CA in a sigward TrustRoot (trusted_root.json certificateAuthorities) and set trustRootRef',
    );
  const identities = translateIdentities(f, value['identities'], at);
  const ignoreSct = value['insecureIgnoreSCT'];
  return {
    identities,
    ...(ignoreSct === true ? { insecureIgnoreSCT: true } : {}),
  };
}

/** ctlog / rfc3161timestamp → sigward's insecureIgnoreTlog (and trust root refs). */
function translateTransparency(
  f: Findings,
  o: Json,
  at: string,
  trust: TrustRefs,
): { insecureIgnoreTlog?: true } {
  const ctlog = o['ctlog'];
  let tlogOff = false;
  if (ctlog !== undefined) {
    if (!isObject(ctlog)) f.error(`${at}.ctlog`, 'must be an object');
    else {
      f.unknown(ctlog, `${at}.ctlog`, ['url', 'trustRootRef']);
      noteTrustRoot(trust, `${at}.ctlog.trustRootRef`, ctlog['trustRootRef']);
      const url = str(ctlog['url']);
      if (url === undefined && ctlog['trustRootRef'] === undefined) tlogOff = true;
      else if (url !== undefined && !PUBLIC_REKOR.has(url) && ctlog['trustRootRef'] === undefined)
        f.error(
          `${at}.ctlog.url`,
          `${redactUrlCredentials(url)}: sigward checks transparency log entries offline against the log keys of a TrustRoot, not a URL: set ctlog.trustRootRef (or keyless.trustRootRef) to a sigward TrustRoot for that log`,
        );
    }
  }
  const tsa = o['rfc3161timestamp'];
  if (tsa !== undefined) {
    if (!isObject(tsa)) f.error(`${at}.rfc3161timestamp`, 'must be an object');
    else {
      f.unknown(tsa, `${at}.rfc3161timestamp`, ['trustRootRef']);
      noteTrustRoot(trust, `${at}.rfc3161timestamp.trustRootRef`, tsa['trustRootRef']);
      if (!tlogOff)
        f.error(
          `${at}.rfc3161timestamp`,
          'requires a TSA timestamp in addition to the transparency log entry: sigward requires one of them, not both: not honoured (with ctlog: {} it is: a TSA timestamp instead of the log)',
        );
    }
  }
  return tlogOff ? { insecureIgnoreTlog: true } : {};
}

interface SourceInfo {
  repository?: string;
  pullSecret?: string;
}

function translateSources(f: Findings, value: unknown, at: string): SourceInfo | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length === 0) {
    f.error(at, 'must be a non-empty list');
    return undefined;
  }
  if (value.length > 1)
    f.error(at, 'several signature sources: sigward reads one signature repository per policy: not honoured');
  const s: unknown = value[0];
  if (!isObject(s)) {
    f.error(`${at}[0]`, 'must be an object');
    return undefined;
  }
  f.unknown(s, `${at}[0]`, ['oci', 'signaturePullSecrets', 'tagPrefix']);
  if (s['tagPrefix'] !== undefined)
    f.error(`${at}[0].tagPrefix`, 'signature tags with a prefix are not discovered by sigward: not honoured');
  const info: SourceInfo = {};
  const oci = str(s['oci']);
  if (oci !== undefined) info.repository = oci;
  const secrets = s['signaturePullSecrets'];
  if (Array.isArray(secrets) && secrets.length > 0) {
    if (secrets.length > 1)
      f.error(
        `${at}[0].signaturePullSecrets`,
        'sigward takes one pull secret for the signature repository: not honoured',
      );
    const name = isObject(secrets[0]) ? str(secrets[0]['name']) : undefined;
    if (name !== undefined) {
      info.pullSecret = name;
      f.warn(
        `${at}[0].signaturePullSecrets`,
        "read from sigward's own namespace (policy-controller: its own namespace)",
      );
    }
  }
  return info;
}

/** A policy-controller authority name (free text, optional) as a sigward one (a DNS label). */
function authorityName(f: Findings, value: unknown, index: number, at: string): string {
  const given = str(value);
  if (given === undefined) return `authority-${index}`;
  const label =
    given
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 63)
      .replace(/-+$/, '') || `authority-${index}`;
  if (label !== given)
    f.warn(`${at}.name`, `${JSON.stringify(given)} is named ${label} in sigward (a DNS label)`);
  return label;
}

function translateAuthority(
  f: Findings,
  raw: unknown,
  index: number,
  sources: (SourceInfo | undefined)[],
): AuthoritySpec | undefined {
  const at = `spec.authorities[${index}]`;
  if (!isObject(raw)) {
    f.error(at, 'must be an object');
    return undefined;
  }
  f.unknown(raw, at, [
    'name',
    'key',
    'keyless',
    'static',
    'source',
    'ctlog',
    'attestations',
    'rfc3161timestamp',
    'signatureFormat',
  ]);
  const name = authorityName(f, raw['name'], index, at);
  if (raw['static'] !== undefined) {
    const action = isObject(raw['static']) ? str(raw['static']['action']) : undefined;
    f.error(
      `${at}.static`,
      action === 'pass'
        ? "static pass is not honoured: no sigward policy admits without a check. What it does here (admit the images no other policy names) is sigward's --no-match-action allow (chart webhook.noMatchAction), for every unnamed image; or exempt their namespace (label sigward.dev/exclude=true)"
        : `static ${action ?? '(no action)'} is not honoured as such: sigward has no static authority, so this invalid policy fails every image it names with POLICY_INVALID in its mode, as policy-controller fails them`,
    );
    return undefined;
  }
  const attestations =
    raw['attestations'] === undefined
      ? undefined
      : translateAttestations(f, raw['attestations'], `${at}.attestations`);
  const format = str(raw['signatureFormat']);
  if (format !== undefined)
    f.warn(
      `${at}.signatureFormat`,
      `${format}: sigward finds and verifies both formats (legacy .sig tags and bundles by referrers), so either counts`,
    );
  const trust: TrustRefs = { refs: new Map() };
  sources[index] = translateSources(f, raw['source'], `${at}.source`);
  const transparency = translateTransparency(f, raw, at, trust);
  let credentials: Pick<AuthoritySpec, 'key' | 'keyless'> | undefined;
  if ((raw['key'] === undefined) === (raw['keyless'] === undefined)) {
    f.error(at, 'set exactly one of key, keyless or static');
  } else if (raw['key'] !== undefined) {
    const key = translateKey(f, raw['key'], `${at}.key`);
    if (key !== undefined) credentials = { key };
  } else {
    const keyless = translateKeyless(f, raw['keyless'], `${at}.keyless`, trust);
    if (keyless !== undefined) credentials = { keyless };
  }
  const refs = new Set(trust.refs.values());
  if (refs.size > 1)
    f.error(
      at,
      `trustRootRef differs between ${[...trust.refs.keys()].join(' and ')}: sigward verifies one authority against one TrustRoot`,
    );
  const trustRootRef = [...refs][0];
  if (trustRootRef !== undefined && trustRootRef !== PUBLIC_GOOD_TRUST_ROOT)
    f.warn(
      [...trust.refs.keys()][0]!,
      `names the TrustRoot ${trustRootRef}: sigward reads its own TrustRoot resources (policy.sigward.dev), not policy-controller's; create one of that name`,
    );
  if (credentials === undefined) return undefined;
  return {
    name,
    ...credentials,
    ...(trustRootRef === undefined ? {} : { trustRootRef }),
    ...transparency,
    ...(attestations === undefined ? {} : { attestations }),
  };
}

/**
 * An authority's attestations: as in policy-controller, such an authority is satisfied by verified
 * attestations instead of an image signature, each wanted predicate type found (signed by the
 * authority, about the image). Presence alone translates as is; a CUE or Rego `policy` over an
 * attestation does not (sigward evaluates CEL conditions), and dropping it would admit what
 * policy-controller denies.
 */
function translateAttestations(f: Findings, raw: unknown, at: string): AttestationSpec[] | undefined {
  if (!Array.isArray(raw) || raw.length === 0) {
    f.error(at, 'must be a non-empty list');
    return undefined;
  }
  const out: AttestationSpec[] = [];
  raw.forEach((item: unknown, i) => {
    const where = `${at}[${i}]`;
    if (!isObject(item)) return f.error(where, 'must be an object');
    f.unknown(item, where, ['name', 'predicateType', 'policy']);
    const given = str(item['name']);
    const name =
      given
        ?.toLowerCase()
        .replace(/[^a-z0-9-]+/g, '-')
        .replace(/^-+|-+$/g, '')
        .slice(0, 63)
        .replace(/-+$/, '') || `attestation-${i}`;
    if (given !== undefined && name !== given)
      f.warn(`${where}.name`, `${JSON.stringify(given)} is named ${name} in sigward (a DNS label)`);
    const predicateType = str(item['predicateType']);
    if (predicateType === undefined) f.error(`${where}.predicateType`, 'must be a string');
    if (item['policy'] !== undefined) {
      const type = isObject(item['policy']) ? str(item['policy']['type']) : undefined;
      f.error(
        `${where}.policy`,
        `a ${type ?? 'CUE/Rego'} policy over the attestation is not honoured (sigward evaluates CEL conditions, not CUE or Rego): rewrite it as conditions of a sigward policy's attestation; checking only that the attestation exists would admit what policy-controller denies`,
      );
    }
    if (predicateType !== undefined) out.push({ name, predicateType });
  });
  return out;
}

/** A policy-controller ClusterImagePolicy as a sigward one, with a finding for every difference. */
export function translatePolicyControllerPolicy(resource: unknown): Translation {
  const f = new Findings();
  const r: Json = isObject(resource) ? resource : {};
  const apiVersion = str(r['apiVersion']) ?? '';
  const version = apiVersion.slice(POLICY_CONTROLLER_GROUP.length + 1);
  if (!apiVersion.startsWith(`${POLICY_CONTROLLER_GROUP}/`) || !POLICY_CONTROLLER_VERSIONS.includes(version))
    f.error('apiVersion', `must be ${POLICY_CONTROLLER_GROUP}/${POLICY_CONTROLLER_VERSIONS.join(' or …/')}`);
  if (r['kind'] !== 'ClusterImagePolicy')
    f.error(
      'kind',
      `${String(r['kind'])}: only policy-controller's ClusterImagePolicy is read (its TrustRoot is not: create a sigward TrustRoot)`,
    );
  const meta = isObject(r['metadata']) ? r['metadata'] : {};
  const name = str(meta['name']) ?? '';
  const spec = isObject(r['spec']) ? r['spec'] : {};
  if (!isObject(r['spec'])) f.error('spec', 'must be an object');
  f.unknown(spec, 'spec', ['images', 'authorities', 'policy', 'mode', 'match']);

  const images: string[] = [];
  if (!Array.isArray(spec['images']) || spec['images'].length === 0)
    f.error('spec.images', 'must be a non-empty list');
  else
    spec['images'].forEach((image: unknown, i) => {
      const at = `spec.images[${i}]`;
      const glob = isObject(image) ? str(image['glob']) : undefined;
      if (glob === undefined) return f.error(`${at}.glob`, 'must be a string');
      if (isObject(image)) f.unknown(image, at, ['glob']);
      const translated = translateGlob(glob);
      if (translated.note !== undefined) f.warn(`${at}.glob`, translated.note);
      images.push(...translated.globs);
    });

  if (spec['policy'] !== undefined)
    f.error(
      'spec.policy',
      `a ${isObject(spec['policy']) ? (str(spec['policy']['type']) ?? '') : ''} policy over the verified signatures is not honoured (sigward has no CUE/Rego evaluation); spec.authorities with a threshold covers "N of M" rules`.replace(
        'a  policy',
        'a policy',
      ),
    );
  if (spec['match'] !== undefined)
    f.warn(
      'spec.match',
      'sigward does not narrow a policy by resource kind or labels: it applies to every workload kind sigward checks (stricter)',
    );
  const mode = str(spec['mode']);
  if (mode !== undefined && mode !== 'enforce' && mode !== 'warn')
    f.error('spec.mode', `${mode}: policy-controller modes are enforce and warn`);

  const authorities: AuthoritySpec[] = [];
  const sources: (SourceInfo | undefined)[] = [];
  if (!Array.isArray(spec['authorities']) || spec['authorities'].length === 0)
    f.error('spec.authorities', 'must be a non-empty list (sigward admits nothing without an authority)');
  else
    spec['authorities'].forEach((raw: unknown, i) => {
      const a = translateAuthority(f, raw, i, sources);
      if (a !== undefined) authorities.push(a);
    });

  // policy-controller's source is per authority; sigward's signature repository is per policy.
  const distinct = new Set(sources.map((s) => JSON.stringify(s ?? null)));
  let signatureRepository: SignatureRepositorySpec | undefined;
  if (distinct.size > 1)
    f.error(
      'spec.authorities',
      'authorities read signatures from different sources: sigward reads one signature repository per policy: not honoured',
    );
  else {
    const s = sources[0];
    if (s?.repository !== undefined)
      signatureRepository = {
        repository: s.repository,
        ...(s.pullSecret === undefined ? {} : { pullSecretRef: { name: s.pullSecret } }),
      };
    else if (s?.pullSecret !== undefined)
      f.error(
        'spec.authorities[0].source[0].signaturePullSecrets',
        "a pull secret without oci: sigward uses the workload's credentials next to the image: not honoured",
      );
  }

  const policy: Translation['policy'] = {
    apiVersion: POLICY_API_VERSION,
    kind: 'ClusterImagePolicy',
    metadata: {
      name,
      ...(typeof meta['uid'] === 'string' ? { uid: meta['uid'] } : {}),
      ...(typeof meta['generation'] === 'number' ? { generation: meta['generation'] } : {}),
      annotations: { [CONVERTED_FROM_ANNOTATION]: `${apiVersion} ClusterImagePolicy ${name}` },
    },
    spec: {
      images,
      ...(mode === 'warn' ? { mode: 'warn' as const } : { mode: 'enforce' as const }),
      authorities,
      ...(signatureRepository === undefined ? {} : { signatureRepository }),
    },
  };
  return { policy, findings: f.list };
}

/**
 * A policy-controller ClusterImagePolicy compiled through compile.ts. Translation errors make it
 * invalid (it keeps its images and fails them with POLICY_INVALID in its mode, like any invalid
 * policy); translation warnings join the compiler's warnings. Named `NAME (policy.sigstore.dev)`.
 */
export function compilePolicyControllerPolicy(resource: unknown): {
  policy: CompiledPolicy;
  errors: readonly FieldError[];
  warnings: readonly FieldError[];
} {
  const { policy: translated, findings } = translatePolicyControllerPolicy(resource);
  const compiled = compilePolicy(translated);
  const own = (severity: TranslationFinding['severity']): FieldError[] =>
    findings.filter((x) => x.severity === severity).map(({ field, message }) => ({ field, message }));
  const errors = Object.freeze([...own('error'), ...compiled.errors]);
  const warnings = Object.freeze([...own('warning'), ...compiled.warnings]);
  const valid = errors.length === 0;
  const policy: CompiledPolicy = Object.freeze({
    ...compiled.policy,
    displayName: `${compiled.policy.name} (${POLICY_CONTROLLER_GROUP})`,
    valid,
    errors,
    warnings,
    authorities: valid ? compiled.policy.authorities : [],
  });
  return { policy, errors, warnings };
}
