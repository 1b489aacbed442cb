// Who may call the webhook. With a client CA bundle (--client-ca) the HTTPS server asks every caller for
// a certificate and the TLS handshake refuses one that is missing or does not chain to the bundle, before
// any HTTP is read; with names (--client-name) a chained certificate must also carry one of them. The
// kube-apiserver presents such a certificate once its AdmissionConfiguration gives it a kubeconfig for
// the webhook (README "Authenticating the apiserver"). Kubelet probes and Prometheus cannot present one:
// they use the health listener, which serves only /livez, /readyz and /metrics.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import { SigwardError, describeError } from '../errors.ts';

export interface ClientAuth {
  /** PEM bundle of the CAs whose certificates may call (re-read when it changes). */
  readonly caFile: string;
  /** Accepted identities: the subject CN or a DNS/URI subject alternative name, exactly. Empty: any. */
  readonly names?: readonly string[];
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----/g;

/**
 * The bundle's bytes, once each block is a certificate that parses. Refused with one line naming the
 * file: missing, unreadable, empty, not PEM, a block that is not a certificate (a key pasted by
 * mistake), or a certificate that does not parse.
 */
export function readClientCaBundle(file: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EACCES'
          ? 'is not readable by this user'
          : code === 'EISDIR'
            ? 'is a directory'
            : `cannot be read (${describeError(error)})`;
    throw refusal(file, why);
  }
  const text = bytes.toString('utf8');
  if (text.trim() === '') throw refusal(file, 'is empty');
  const blocks = [...text.matchAll(PEM_BLOCK)];
  if (blocks.length === 0) throw refusal(file, 'holds no PEM block (-----BEGIN CERTIFICATE-----)');
  blocks.forEach((block, index) => {
    const label = block[1]!;
    if (label !== 'CERTIFICATE')
      throw refusal(
        file,
        `block ${index + 1} is a ${label}, not a CERTIFICATE (a CA bundle holds only certificates)`,
      );
    try {
      new X509Certificate(block[0]);
    } catch {
      throw refusal(file, `certificate ${index + 1} does not parse as X.509`);
    }
  });
  return bytes;
}

function refusal(file: string, why: string): SigwardError {
  return new SigwardError('CLIENT_CA_INVALID', `--client-ca ${file} ${why}`, { details: { file } });
}

/** The identities a certificate shows: its subject CNs, then its DNS and URI alternative names. */
export function clientIdentities(certificate: X509Certificate): string[] {
  const names: string[] = [];
  for (const line of certificate.subject.split('\n')) if (line.startsWith('CN=')) names.push(line.slice(3));
  for (const entry of splitAltNames(certificate.subjectAltName ?? '')) {
    const colon = entry.indexOf(':');
    const type = entry.slice(0, colon);
    if (type === 'DNS' || type === 'URI') names.push(unquote(entry.slice(colon + 1)));
  }
  return names;
}

// Node lists alternative names as `DNS:a, URI:b`, quoting a value that holds a comma or a quote as a
// JSON string; a split on every ", " would cut such a value.
function splitAltNames(list: string): string[] {
  const entries: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < list.length; i++) {
    const c = list[i]!;
    if (quoted && c === '\\') {
      current += c + (list[i + 1] ?? '');
      i++;
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (!quoted && c === ',' && list[i + 1] === ' ') {
      entries.push(current);
      current = '';
      i++;
      continue;
    }
    current += c;
  }
  if (current !== '') entries.push(current);
  return entries;
}

function unquote(value: string): string {
  if (!value.startsWith('"')) return value;
  try {
    return JSON.parse(value) as string;
  } catch {
    return value;
  }
}

/** Why a caller was refused, as the label of sigward_callers_refused_total (a fixed set). */
export const CALLER_REFUSALS = [
  'no-certificate',
  'untrusted-certificate',
  'name-not-accepted',
  'handshake-failed',
] as const;
export type CallerRefusal = (typeof CALLER_REFUSALS)[number];

/** Why a TLS handshake with a caller was refused: the metric's label and the words for the log. */
export function handshakeRefusal(
  error: Error & { code?: string },
  socket: TLSSocket,
): { readonly kind: CallerRefusal; readonly reason: string } {
  // Node verifies the chain after the handshake and drops the socket: the reason is on the socket.
  const verify = socket.authorizationError;
  if (verify !== undefined && verify !== null)
    return {
      kind: 'untrusted-certificate',
      reason: `client certificate not accepted by the --client-ca bundle (${String(verify)})`,
    };
  if (error.code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE')
    return { kind: 'no-certificate', reason: 'no client certificate' };
  return { kind: 'handshake-failed', reason: `TLS handshake failed (${error.code ?? error.message})` };
}

/** What one refusal line carries besides the reason: where the caller came from, what it presented. */
export type RefusalFields = Readonly<Record<string, string | number | readonly string[] | undefined>>;

/**
 * A log line per kind of refusal at most once a minute, with how many were left out since: a caller
 * retrying in a loop must not flood the log, and the first one of each kind is always seen.
 */
export class RefusalLog {
  readonly #last = new Map<string, { at: number; suppressed: number }>();
  readonly #write: (fields: RefusalFields & { reason: string; suppressed?: number }) => void;
  readonly #intervalMs: number;
  readonly #now: () => number;

  constructor(
    write: (fields: RefusalFields & { reason: string; suppressed?: number }) => void,
    intervalMs = 60_000,
    now: () => number = Date.now,
  ) {
    this.#write = write;
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  refused(reason: string, fields: RefusalFields = {}): void {
    const now = this.#now();
    const seen = this.#last.get(reason);
    if (seen !== undefined && now - seen.at < this.#intervalMs) {
      seen.suppressed++;
      return;
    }
    this.#write({
      reason,
      ...fields,
      ...(seen === undefined || seen.suppressed === 0 ? {} : { suppressed: seen.suppressed }),
    });
    // Bounded: reasons are fixed phrases and OpenSSL's error codes.
    if (this.#last.size >= 64 && seen === undefined) this.#last.clear();
    this.#last.set(reason, { at: now, suppressed: 0 });
  }
}
