// The one logger. Redaction is by path, and covers every place a secret could ride into a log line:
// request headers, registry credentials, pull secrets, tokens and private keys. Callers log reason
// codes and safe details (errors.ts), never a raw secret-bearing object.
import { pino } from 'pino';
import type { Logger, LoggerOptions } from 'pino';
import { WRITE_PARTS, stdoutLines } from './stdout-lines.ts';
import type { PartsStream } from './stdout-lines.ts';

export type { Logger } from 'pino';

export const REDACTED_PATHS = [
  'authorization',
  'password',
  'token',
  'identityToken',
  'registryToken',
  'privateKey',
  'key',
  'auth',
  'data',
  'dockerconfigjson',
  '*.authorization',
  '*.Authorization',
  '*.password',
  '*.token',
  '*.identityToken',
  '*.identitytoken',
  '*.registrytoken',
  '*.privateKey',
  '*.key',
  '*.auth',
  '*.data',
  '*[".dockerconfigjson"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'secret.data',
  'secret.stringData',
  // Node's HTTP parser errors carry the request's raw bytes (headers, an Authorization among them);
  // fastify logs such a client error whole (at trace).
  '*.rawPacket',
];

/** The levels `--log-level` takes (pino's, and silent). */
export const LOG_LEVELS: readonly string[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface LoggerSettings {
  readonly level?: string;
  /** Where to write; stdout by default (tests pass a stream to read the lines back). */
  readonly destination?: NodeJS.WritableStream;
}

export function createLogger(settings: LoggerSettings = {}): Logger {
  const options: LoggerOptions = {
    level: settings.level ?? 'info',
    base: { service: 'sigward' },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: isoTime,
  };
  return pino(options, (settings.destination ?? stdoutLines()) as unknown as pino.DestinationStream);
}

/**
 * Resolves once every line `logger` has logged so far is written (stdout's batch handed over and
 * sonic-boom's writes done, or failed), or after `timeoutMs` (a reader that never reads must not hold
 * the exit). Called before process.exit: the exit's own flush writes what is still gathered at once,
 * while a write already under way may be waiting on a full pipe, and the two went in between each
 * other's pieces, cutting lines in two.
 */
export function linesWritten(logger: Logger, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    const written = (): void => {
      clearTimeout(timer);
      resolve();
    };
    try {
      // A write's error (a broken pipe) also ends the wait: nothing more will be written.
      logger.flush(written);
    } catch {
      written();
    }
  });
}

/**
 * pino's `,"time":"<ISO 8601>"`, identical to `new Date(now).toISOString()`, with the part up to the
 * second formatted once per second: the Date and toISOString per line were ~2 µs of the ~5 µs an
 * admission line costs. The lines of one millisecond (a turn's reviews, mostly) share one text.
 */
export function isoTimeAt(now: number): string {
  if (now === lastNow) return lastText;
  lastNow = now;
  lastText = timeText(now);
  return lastText;
}
let lastNow = NaN;
let lastText = '';

function timeText(now: number): string {
  const second = Math.floor(now / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    // "YYYY-MM-DDTHH:MM:SS." (the milliseconds and "Z" follow)
    secondPrefix = `,"time":"${new Date(second * 1000).toISOString().slice(0, -4)}`;
  }
  const ms = now - second * 1000;
  return `${secondPrefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z"`;
}
let lastSecond = NaN;
let secondPrefix = '';

const isoTime = (): string => isoTimeAt(Date.now());

/** A value of a hot line's field: what the admission line carries. */
export type LineValue = string | number | readonly string[] | undefined;
export type LineLevel = 'debug' | 'info';

/** One log line of a fixed shape, written once per review (server/app.ts's admission line). */
export interface LineWriter<K extends string> {
  /**
   * The next line's fields, written in the order of `keys` (an undefined one is left out, as pino
   * does). One object reused line after line: set every field before each `write`.
   */
  readonly fields: Record<K, LineValue>;
  /** Whether a line at this level would be written (pino's `isLevelEnabled`). */
  enabled(level: LineLevel): boolean;
  /** Writes `fields` and the message at `level`. */
  write(level: LineLevel): void;
}

/**
 * A writer of one hot log line: byte for byte what `logger[level](fields, message)` writes (tested),
 * without pino's per-line work. pino walks the merge object, looks up serializers and redaction per
 * key and builds the line by ~40 string concatenations (~5 KB of garbage per admission line, a fifth
 * of a cached review's allocation); here the line is strings made once (the level, the logger's
 * bindings, each key, the message) and each value's JSON, handed to the logger's stream as its parts
 * (stdout joins them with the rest of its batch) or as their join, as pino writes it. Values are escaped by JSON.stringify: pino's text for every string, except that a
 * lone surrogate is written escaped (`\udXXX`) instead of raw. A logger this cannot imitate (a mixin,
 * hooks, a log formatter, nestedKey, msgPrefix, a stream that wants pino's metadata, a serializer or
 * redaction on one of the keys) gets pino's own call: the writer never changes what a line says.
 */
export function lineWriter<K extends string>(
  logger: Logger,
  keys: readonly K[],
  message: string,
): LineWriter<K> {
  const fields = Object.fromEntries(keys.map((k) => [k, undefined])) as Record<K, LineValue>;
  const enabled = (level: LineLevel): boolean => logger.isLevelEnabled(level);
  const pinoParts = imitable(logger, keys);
  if (pinoParts === undefined)
    return {
      fields,
      enabled,
      write(level) {
        const line: Record<string, LineValue> = {};
        for (const key of keys) if (fields[key] !== undefined) line[key] = fields[key];
        logger[level](line, message);
      },
    };
  const { stream, time, levelText, bindings, messageKey, end } = pinoParts;
  // stdout (stdoutLines) takes the line as its parts; any other stream gets it as one string.
  const writeLine = partsWriter(stream);
  const head: Record<LineLevel, string> = {
    debug: levelText[logger.levels.values['debug']!]!,
    info: levelText[logger.levels.values['info']!]!,
  };
  const keyText = keys.map((k) => `,${JSON.stringify(k)}:`);
  const tail = `,${JSON.stringify(messageKey)}:${JSON.stringify(message)}${end}`;
  // Reused line after line: the line's parts, handed to stdout as they are (partsWriter).
  const parts: string[] = [];
  // Each key's last string value and its JSON: route, decision, kind, operation, user and object repeat
  // from review to review, and a repeated value is not escaped again.
  const lastValue: LineValue[] = keys.map(() => undefined);
  const lastJson: string[] = keys.map(() => '');
  return {
    fields,
    enabled,
    write(level) {
      let n = 0;
      parts[n++] = head[level];
      parts[n++] = time();
      parts[n++] = bindings;
      for (let i = 0; i < keys.length; i++) {
        const value = fields[keys[i]!];
        if (value === undefined) continue;
        parts[n++] = keyText[i]!;
        if (typeof value === 'string') {
          if (value !== lastValue[i]) {
            lastValue[i] = value;
            lastJson[i] = JSON.stringify(value);
          }
          parts[n++] = lastJson[i]!;
          continue;
        }
        parts[n++] =
          typeof value === 'number'
            ? Number.isFinite(value)
              ? String(value)
              : 'null'
            : JSON.stringify(value);
      }
      parts[n++] = tail;
      writeLine(parts, n);
    },
  };
}

/** Writes a line given as the first `count` of `parts` to `stream`: as its parts where it takes them. */
function partsWriter(stream: PinoParts['stream']): (parts: string[], count: number) => void {
  const partsStream = stream as Partial<PartsStream>;
  const writeParts = partsStream[WRITE_PARTS];
  if (typeof writeParts === 'function') return (parts, count) => writeParts.call(partsStream, parts, count);
  return (parts, count) => {
    parts.length = count;
    stream.write(parts.join(''));
  };
}

/** pino's own parts of a line, read from its (internal) symbols. */
interface PinoParts {
  readonly stream: { write(line: string): void };
  /** `,"time":…` */
  readonly time: () => string;
  /** `{"level":30` per level number */
  readonly levelText: Readonly<Record<number, string>>;
  /** `,"service":"sigward","component":"admission"` */
  readonly bindings: string;
  readonly messageKey: string;
  /** `}` and the end of line */
  readonly end: string;
}

/**
 * A logger's parts when its lines are exactly level, time, bindings, the fields' JSON and the
 * message; undefined when anything else could change a line (or pino's internals moved).
 */
function imitable(logger: Logger, keys: readonly string[]): PinoParts | undefined {
  const at = logger as unknown as Record<symbol, unknown>;
  const symbols = pino.symbols as unknown as Readonly<Record<string, symbol | undefined>>;
  const read = (name: string): unknown => {
    const symbol = symbols[name];
    return symbol === undefined ? MISSING : at[symbol];
  };
  const stream = read('streamSym') as (Record<symbol, unknown> & { write?: unknown }) | undefined;
  const time = read('timeSym');
  const levelText = read('lsCacheSym');
  const bindings = read('chindingsSym');
  const messageKey = read('messageKeySym');
  const end = read('endSym');
  const hooks = read('hooksSym') as { logMethod?: unknown; streamWrite?: unknown } | undefined;
  const formatters = read('formattersSym') as { log?: unknown } | undefined;
  const serializers = read('serializersSym') as Record<string, unknown> | undefined;
  const stringifiers = read('stringifiersSym') as Record<string | symbol, unknown> | undefined;
  const metadata = symbols['needsMetadataGsym'];
  const wildcard = symbols['wildcardFirstSym'];
  if (
    typeof stream?.write !== 'function' ||
    metadata === undefined ||
    stream[metadata] === true ||
    typeof time !== 'function' ||
    typeof levelText !== 'object' ||
    levelText === null ||
    typeof bindings !== 'string' ||
    typeof messageKey !== 'string' ||
    typeof end !== 'string' ||
    read('mixinSym') !== undefined ||
    read('nestedKeySym') !== null ||
    read('msgPrefixSym') !== undefined ||
    hooks === undefined ||
    hooks.logMethod !== undefined ||
    hooks.streamWrite !== undefined ||
    formatters === undefined ||
    formatters.log !== undefined ||
    serializers === undefined ||
    stringifiers === undefined ||
    wildcard === undefined ||
    stringifiers[wildcard] !== undefined ||
    keys.some((k) => serializers[k] !== undefined || stringifiers[k] !== undefined)
  )
    return undefined;
  return {
    stream: stream as unknown as PinoParts['stream'],
    time: time as () => string,
    levelText: levelText as Record<number, string>,
    bindings,
    messageKey,
    end,
  };
}
const MISSING = Symbol('missing');
