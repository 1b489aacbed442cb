// The webhook's log destination: stdout, written asynchronously in batches, each batch handed to the
// write between two turns of the event loop rather than inside the review whose line filled it.
import { pino } from 'pino';

/** Bytes (roughly: UTF-16 units of the lines' text) of log lines gathered before stdout is written. */
export const STDOUT_BATCH_BYTES = 16_384;
/** What sonic-boom writes on its own: what is left of a batch after a short write, or gathered meanwhile. */
const SONIC_MIN_LENGTH = 4096;
/**
 * Most strings of a batch whose array is kept for the next: a full batch of admission lines is ~1,100
 * (each ~23 parts); one of a burst logged in a single turn can be any size.
 */
const KEPT_BATCH_STRINGS = 8192;
/** Longest a log line waits in the batch when little is logged. */
export const STDOUT_FLUSH_MS = 200;

/**
 * A stream that also takes a line as its parts (stdoutLines' does): `count` strings from `parts`,
 * written as their concatenation without the line ever being one string. lineWriter writes the
 * admission line so: the batch is joined once anyway, and joining each line first copied its text
 * twice (a ~350-byte string per review).
 */
export const WRITE_PARTS = Symbol('sigward.writeParts');
export interface PartsStream {
  [WRITE_PARTS](parts: readonly string[], count: number): void;
}

/** The parts of pino's SonicBoom stream this replaces on the instance (pino calls them there). */
interface BatchedStream {
  /** Set once the stream is closed (ended or destroyed): its `write` throws then. */
  readonly destroyed: boolean;
  /** sonic-boom writes on its own once it holds this many bytes and no write is under way. */
  minLength: number;
  /** sonic-boom's own takes a batch's bytes (buffer mode); the one put in its place, pino's lines. */
  write(data: Buffer | string): boolean;
  flush(cb?: (error?: Error) => void): void;
  flushSync(): void;
  end(): void;
}

/**
 * stdout in batches: under load the admission lines of ~70 reviews go out in one write instead of one
 * thread-pool write each; when little is logged, a line waits at most STDOUT_FLUSH_MS (sonic-boom's
 * periodic flush). Flushed at exit (pino's exit hook calls `flushSync`, or `flush` then `end`), so a
 * SIGTERM, a fatal error or process.exit loses nothing; a SIGKILL can lose the last batch. (The exit's
 * flush writes at once, beside a write under way that may still wait on a full pipe: the webhook waits
 * for logger.ts's linesWritten before its process.exit.)
 *
 * Lines are gathered as text and handed over as the bytes of their batch, encoded once (no Buffer per
 * line): sonic-boom in its buffer mode. Given a string, it measured the batch's UTF-8 length twice,
 * fs.write encoded it, and the write's completion encoded it again only to cut what was written off
 * (its releaseWritingBuf); that completion runs in the poll phase, among the reads of a turn of
 * reviews (~20 µs, bench/tail-probe.ts's completionUsP50). A full batch is handed to sonic-boom by a timer, so the write starts in the timers phase
 * of a next turn of the event loop, when every response of the turn that filled it has been sent,
 * instead of inside that review: handing a write to the thread pool wakes a thread, which on a node
 * with few cores takes the CPU from the event loop (~40 µs median, measured with bench/tail-probe.ts),
 * time that every review in flight in that turn waited. The write itself stays asynchronous: a stdout reader that
 * stalls never blocks the event loop.
 */
export function stdoutLines(): pino.DestinationStream {
  const stream = pino.destination({
    dest: 1,
    sync: false,
    minLength: SONIC_MIN_LENGTH,
    periodicFlush: STDOUT_FLUSH_MS,
    contentMode: 'buffer',
  });
  gatherLines(stream as unknown as BatchedStream);
  return stream;
}

/**
 * Replaces `write` (a line is gathered, not written), `flush`, `flushSync` and `end` on
 * the instance, so that sonic-boom's periodic flush, pino's exit flush and its broken-pipe handling
 * (which replaces these with no-ops) act on this same stream.
 */
function gatherLines(stream: BatchedStream & Partial<PartsStream>): void {
  const writeBytes: (bytes: Buffer) => boolean = stream.write.bind(stream);
  const flush = stream.flush.bind(stream);
  const flushSync = stream.flushSync.bind(stream);
  const end = stream.end.bind(stream);
  // The batch: its first `count` strings, lines and parts of lines. The array is kept from batch to
  // batch (grown once, not again per batch; up to KEPT_BATCH_STRINGS) and emptied by writing '' over
  // what was handed over.
  const texts: string[] = [];
  let count = 0;
  let length = 0;
  let timer: NodeJS.Timeout | undefined;
  const handOver = (): void => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (count === 0) return;
    // The strings after `count` are '' (this fill), so the join is the batch's text.
    const text = texts.join('');
    // A burst's array is let go: every later batch's join would walk it.
    if (count > KEPT_BATCH_STRINGS) texts.length = 0;
    else texts.fill('', 0, count);
    count = 0;
    length = 0;
    // pino replaced `write` after a broken pipe, or the stream was closed (its end or destroy): logging
    // has stopped, the batch goes nowhere (a write would throw, here from a timer).
    if (stream.write !== write || stream.destroyed) return;
    writeBytes(Buffer.from(text));
  };
  const added = (): void => {
    if (length >= STDOUT_BATCH_BYTES && timer === undefined) {
      timer = setTimeout(handOver, 0);
      // Never what keeps the process alive: pino's exit hook writes what is left.
      timer.unref();
    }
  };
  // What pino writes: a line's text.
  const write = (line: string): boolean => {
    texts[count++] = line;
    length += line.length;
    added();
    return true;
  };
  stream.write = write;
  stream[WRITE_PARTS] = (parts: readonly string[], partCount: number): void => {
    for (let i = 0; i < partCount; i++) {
      const part = parts[i]!;
      texts[count++] = part;
      length += part.length;
    }
    added();
  };
  stream.flush = (cb?: (error?: Error) => void): void => {
    handOver();
    flush(cb);
  };
  stream.flushSync = (): void => {
    // The batch must be written by flushSync's own synchronous writes: handed over as usual, sonic-boom
    // would start an asynchronous write of it, which flushSync leaves to finish and process.exit cuts off.
    const minLength = stream.minLength;
    stream.minLength = Infinity;
    try {
      handOver();
    } finally {
      stream.minLength = minLength;
    }
    flushSync();
  };
  stream.end = (): void => {
    handOver();
    end();
  };
}
