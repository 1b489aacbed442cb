// The webhook's log destination: stdout, written asynchronously in batches, each batch handed to the
// write between two turns of the event loop rather than inside the review whose line filled it.
import { pino } from 'pino';

/** Bytes (roughly: UTF-16 units of the lines' text) of log lines gathered before stdout is written. */
export const STDOUT_BATCH_BYTES = 16_384;
/** What sonic-boom writes on its own: what is left of a batch after a short write, or gathered meanwhile. */
const SONIC_MIN_LENGTH = 4096;
/** Longest a log line waits in the batch when little is logged. */
export const STDOUT_FLUSH_MS = 200;

/** The parts of pino's SonicBoom stream this replaces on the instance (pino calls them there). */
interface BatchedStream {
  /** Set once the stream is closed (ended or destroyed): its `write` throws then. */
  readonly destroyed: boolean;
  /** sonic-boom writes on its own once it holds this many bytes and no write is under way. */
  minLength: number;
  write(data: string): boolean;
  flush(cb?: (error?: Error) => void): void;
  flushSync(): void;
  end(): void;
}

/**
 * stdout in batches: under load the admission lines of ~70 reviews go out in one write instead of one
 * thread-pool write each; when little is logged, a line waits at most STDOUT_FLUSH_MS (sonic-boom's
 * periodic flush). Flushed at exit (pino's exit hook calls `flushSync`, or `flush` then `end`), so a
 * SIGTERM, a fatal error or process.exit loses nothing; a SIGKILL can lose the last batch.
 *
 * Lines are gathered as text and handed over as one string per batch (fs.write encodes it; no Buffer
 * per line). A full batch is handed to sonic-boom by a timer, so the write starts in the timers phase
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
  });
  gatherLines(stream as unknown as BatchedStream);
  return stream;
}

/**
 * Replaces `write` (a line is gathered, not written), `flush`, `flushSync` and `end` on
 * the instance, so that sonic-boom's periodic flush, pino's exit flush and its broken-pipe handling
 * (which replaces these with no-ops) act on this same stream.
 */
function gatherLines(stream: BatchedStream): void {
  const writeText = stream.write.bind(stream);
  const flush = stream.flush.bind(stream);
  const flushSync = stream.flushSync.bind(stream);
  const end = stream.end.bind(stream);
  let lines: string[] = [];
  let length = 0;
  let timer: NodeJS.Timeout | undefined;
  const handOver = (): void => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (lines.length === 0) return;
    const text = lines.join('');
    lines = [];
    length = 0;
    // pino replaced `write` after a broken pipe, or the stream was closed (its end or destroy): logging
    // has stopped, the batch goes nowhere (a write would throw, here from a timer).
    if (stream.write !== write || stream.destroyed) return;
    writeText(text);
  };
  const write = (line: string): boolean => {
    lines.push(line);
    length += line.length;
    if (length >= STDOUT_BATCH_BYTES && timer === undefined) {
      timer = setTimeout(handOver, 0);
      // Never what keeps the process alive: pino's exit hook writes what is left.
      timer.unref();
    }
    return true;
  };
  stream.write = write;
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
