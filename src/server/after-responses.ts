// What a review owes once it is answered (its admission log line, its metrics), done after every
// response of the event loop's turn has been handed to its socket, not between them.
//
// Node reports a TLS response that was written at once as finished only in the turn's check phase
// (TLSWrap::EncOut → SetImmediate), and the requests read in one turn are handled one after another
// before that: at 16 connections a turn holds up to 16 reviews, so whatever one review does after
// writing its answer delays the answers of the reviews read after it and the finish of them all.
// Native immediates (those write completions) run before JavaScript ones, so one setImmediate per
// turn runs the queued work once every response of the turn has been written and reported finished.
// (docs/performance.md "Warm path, turns")

export class AfterResponses<T> {
  readonly #run: (item: T) => void;
  readonly #failed: (error: unknown) => void;
  #items: T[] = [];
  #scheduled = false;

  /** `run` does one item's work; `failed` hears what it threw (the other items still run). */
  constructor(run: (item: T) => void, failed: (error: unknown) => void) {
    this.#run = run;
    this.#failed = failed;
  }

  /** Queues `item`; the first one of a turn schedules the run after that turn's responses. */
  add(item: T): void {
    this.#items.push(item);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.flush);
  }

  /** Runs everything queued, in the order it came (at its turn's end, and when the server closes). */
  readonly flush = (): void => {
    this.#scheduled = false;
    const items = this.#items;
    if (items.length === 0) return;
    this.#items = [];
    for (const item of items) {
      try {
        this.#run(item);
      } catch (error) {
        this.#failed(error);
      }
    }
  };
}
