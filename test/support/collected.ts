// What a piece of work keeps while it waits: objects watched by a FinalizationRegistry, and full
// collections (V8's `gc`, exposed from the test) until the expected ones are gone. Test support only.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

export interface CollectionWatch {
  /** Watches `target` (weakly) under `label`. */
  watch(target: object, label: string): void;
  /**
   * Collects and turns the event loop until every label in `expected` was collected (at most 20
   * times: finalizers run in turns), then names what was collected, sorted.
   */
  collectedOf(expected: readonly string[]): Promise<string[]>;
}

export function collectionWatch(): CollectionWatch {
  const collected = new Set<string>();
  const finalization = new FinalizationRegistry((label: string) => collected.add(label));
  return {
    watch: (target, label) => finalization.register(target, label),
    async collectedOf(expected) {
      for (let i = 0; i < 20 && !expected.every((label) => collected.has(label)); i++) {
        gc();
        await new Promise((resolve) => setImmediate(resolve));
      }
      return [...collected].sort();
    },
  };
}

/** A promise `wait()` hands out until `release()`, and one that resolves when it was first awaited. */
export function gate(): { wait: () => Promise<void>; waiting: Promise<void>; release: () => void } {
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  let asked: () => void = () => {};
  const waiting = new Promise<void>((resolve) => (asked = resolve));
  return {
    wait: () => {
      asked();
      return released;
    },
    waiting,
    release,
  };
}
