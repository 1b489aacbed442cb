// Every e2e scenario shares one world between its steps and keeps that world's logs only when a step
// failed. This is the `test` that notes the failure, so each scenario's `after` knows whether to keep them.
import { test, type TestContext } from 'node:test';

export type Step = (name: string, fn: (t: TestContext) => Promise<void>) => void;

/** `test`, but a step that throws first calls `onFailure` (e.g. `() => (failed = true)`). */
export function stepsNotingFailure(onFailure: () => void): Step {
  return (name, fn) =>
    test(name, async (t) => {
      try {
        await fn(t);
      } catch (error) {
        onFailure();
        throw error;
      }
    });
}
