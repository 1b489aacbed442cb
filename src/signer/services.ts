// Which Fulcio, Rekor and TSA to use: a Sigstore signing_config.json (v0.2) and cosign's overrides.
// From the config, per service, the newest entry that is valid now and speaks an API version sigward
// does (CA v1, Rekor v1 or v2, TSA v1), as sigstore-go and sigstore-js choose. Overrides replace the
// config's choice: `--fulcio-url`, `--rekor-url` (API v1 unless the config lists the same URL with
// another version, or --rekor-api-version says so), `--timestamp-server-url`.
// Rekor v2 gives no signed time, so a TSA is then required (so is one when no log is written at all).
import { redactUrlCredentials } from '../errors.ts';
import { SignerError, SignerErrorCode } from './errors.ts';

export interface ServiceEndpoint {
  readonly url: string;
}

export interface RekorEndpoint extends ServiceEndpoint {
  readonly majorApiVersion: 1 | 2;
}

export interface Services {
  readonly fulcio: ServiceEndpoint;
  /** Undefined: no transparency log entry (`--tlog-upload=false`). */
  readonly rekor?: RekorEndpoint;
  readonly tsa?: ServiceEndpoint;
}

/** Public-good Sigstore, used when no signing config is given. */
export const PUBLIC_GOOD_SERVICES: Services = {
  fulcio: { url: 'https://fulcio.sigstore.dev' },
  rekor: { url: 'https://rekor.sigstore.dev', majorApiVersion: 1 },
  tsa: { url: 'https://timestamp.sigstore.dev/api/v1/timestamp' },
};

export interface ServiceOverrides {
  readonly fulcioUrl?: string;
  readonly rekorUrl?: string;
  readonly rekorApiVersion?: 1 | 2;
  readonly timestampServerUrl?: string;
  /** false: write no transparency log entry. */
  readonly tlogUpload?: boolean;
}

interface ConfigService {
  readonly url: string;
  readonly majorApiVersion: number;
  readonly start: number;
  readonly end: number | undefined;
}

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function configError(message: string): SignerError {
  return new SignerError(SignerErrorCode.config, message);
}

function checkUrl(value: string, what: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw configError(`${what} is not a URL: ${redactUrlCredentials(value)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw configError(`${what} must be an http(s) URL: ${redactUrlCredentials(value)}`);
  }
  return value.replace(/\/+$/, '');
}

function servicesOf(json: Json, field: string): ConfigService[] {
  const list = json[field];
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw configError(`signing config: ${field} is not a list`);
  return list.map((entry, i) => {
    const where = `signing config: ${field}[${i}]`;
    if (!isRecord(entry) || typeof entry['url'] !== 'string') throw configError(`${where} has no url`);
    const version = entry['majorApiVersion'];
    if (typeof version !== 'number' || !Number.isInteger(version)) {
      throw configError(`${where} has no majorApiVersion`);
    }
    const validFor = isRecord(entry['validFor']) ? entry['validFor'] : {};
    const start = typeof validFor['start'] === 'string' ? Date.parse(validFor['start']) : Number.NaN;
    if (Number.isNaN(start)) throw configError(`${where} has no validFor.start`);
    const end = typeof validFor['end'] === 'string' ? Date.parse(validFor['end']) : undefined;
    return {
      url: checkUrl(entry['url'], `${where}.url`),
      majorApiVersion: version,
      start,
      end: end === undefined || Number.isNaN(end) ? undefined : end,
    };
  });
}

function newestValid(
  services: readonly ConfigService[],
  versions: readonly number[],
  now: number,
): ConfigService | undefined {
  return services
    .filter(
      (s) => versions.includes(s.majorApiVersion) && s.start <= now && (s.end === undefined || s.end > now),
    )
    .sort((a, b) => b.start - a.start)[0];
}

function checkSelector(json: Json, field: string): void {
  const config = json[field];
  if (config === undefined) return;
  const selector = isRecord(config) ? config['selector'] : undefined;
  if (selector !== undefined && selector !== 'ANY') {
    throw configError(`signing config: ${field}.selector ${String(selector)} is not supported (only ANY)`);
  }
}

/** Parses signing_config.json bytes into the services to use now. Throws SIGNER_CONFIG. */
export function servicesFromSigningConfig(bytes: Uint8Array | string, now = new Date()): Services {
  let json: unknown;
  try {
    json = JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'));
  } catch {
    throw configError('the signing config is not JSON');
  }
  if (!isRecord(json)) throw configError('the signing config is not a JSON object');
  const mediaType = json['mediaType'];
  if (
    typeof mediaType !== 'string' ||
    !mediaType.startsWith('application/vnd.dev.sigstore.signingconfig.v0.2')
  ) {
    throw configError(
      `the signing config has an unsupported mediaType: ${String(mediaType)} (v0.2 expected)`,
    );
  }
  checkSelector(json, 'rekorTlogConfig');
  checkSelector(json, 'tsaConfig');
  const t = now.getTime();
  const ca = newestValid(servicesOf(json, 'caUrls'), [1], t);
  if (ca === undefined) throw configError('the signing config lists no Fulcio (caUrls, API v1) valid now');
  const tlog = newestValid(servicesOf(json, 'rekorTlogUrls'), [1, 2], t);
  const tsa = newestValid(servicesOf(json, 'tsaUrls'), [1], t);
  return {
    fulcio: { url: ca.url },
    ...(tlog === undefined
      ? {}
      : { rekor: { url: tlog.url, majorApiVersion: tlog.majorApiVersion as 1 | 2 } }),
    ...(tsa === undefined ? {} : { tsa: { url: tsa.url } }),
  };
}

/** Applies cosign-style overrides and checks the combination is one that verifiers accept. */
export function withOverrides(base: Services, overrides: ServiceOverrides): Services {
  const fulcio =
    overrides.fulcioUrl === undefined ? base.fulcio : { url: checkUrl(overrides.fulcioUrl, '--fulcio-url') };
  let rekor: RekorEndpoint | undefined = base.rekor;
  if (overrides.rekorUrl !== undefined) {
    const url = checkUrl(overrides.rekorUrl, '--rekor-url');
    const version = overrides.rekorApiVersion ?? (base.rekor?.url === url ? base.rekor.majorApiVersion : 1);
    rekor = { url, majorApiVersion: version };
  } else if (rekor !== undefined && overrides.rekorApiVersion !== undefined) {
    rekor = { ...rekor, majorApiVersion: overrides.rekorApiVersion };
  }
  if (overrides.tlogUpload === false) rekor = undefined;
  const tsa =
    overrides.timestampServerUrl === undefined
      ? base.tsa
      : { url: checkUrl(overrides.timestampServerUrl, '--timestamp-server-url') };
  if (tsa === undefined && rekor === undefined) {
    throw configError(
      'without a transparency log a timestamp authority is required (--timestamp-server-url)',
    );
  }
  if (tsa === undefined && rekor?.majorApiVersion === 2) {
    throw configError(
      'Rekor v2 gives no signed time: a timestamp authority is required (--timestamp-server-url)',
    );
  }
  return { fulcio, ...(rekor === undefined ? {} : { rekor }), ...(tsa === undefined ? {} : { tsa }) };
}
