// A time limit on one piece of work (a review, a verification, a tag resolution, a registry request)
// that goes away when the work ends. `AbortSignal.timeout` keeps its timer, and through it the signal, until the time
// is up or a collection finds the signal unreachable: filling the verdict cache at a few hundred
// verifications a second left tens of thousands of 25 s timers and signals alive, and the old-space
// pages they took stayed committed after they were gone.

/** The reason a deadline aborts with by default: what `AbortSignal.timeout` gives (a `TimeoutError`). */
function timeoutError(ms: number): DOMException {
  return new DOMException(`The operation was aborted due to timeout (${ms} ms)`, 'TimeoutError');
}

/**
 * Aborts `signal` when `ms` pass or `caller` aborts, whichever comes first, until `end()`: then the
 * timer is cleared and the listener on `caller` removed, so nothing of it outlives the work.
 */
export class Deadline {
  readonly #controller = new AbortController();
  readonly #timer: NodeJS.Timeout;
  readonly #caller: AbortSignal | undefined;
  readonly #onCallerAbort: (() => void) | undefined;
  #timedOut = false;

  constructor(ms: number, caller?: AbortSignal, reason: (ms: number) => unknown = timeoutError) {
    const controller = this.#controller;
    this.#timer = setTimeout(() => {
      this.#timedOut = true;
      controller.abort(reason(ms));
    }, ms);
    // As `AbortSignal.timeout`'s: the work keeps the process alive, never its time limit.
    this.#timer.unref();
    if (caller === undefined) return;
    this.#caller = caller;
    if (caller.aborted) {
      controller.abort(caller.reason);
      return;
    }
    this.#onCallerAbort = () => controller.abort(caller.reason);
    caller.addEventListener('abort', this.#onCallerAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The time ran out (rather than the caller aborting). */
  get timedOut(): boolean {
    return this.#timedOut;
  }

  /** The work is over: no timer and no listener on the caller's signal remain. Idempotent. */
  end(): void {
    clearTimeout(this.#timer);
    if (this.#onCallerAbort !== undefined) this.#caller!.removeEventListener('abort', this.#onCallerAbort);
  }
}
