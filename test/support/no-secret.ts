// One check for every credential test: no secret anywhere in an error, its safe details or its causes.
import assert from 'node:assert/strict';
import type { SigwardError } from '../../src/errors.ts';

export function assertNoSecret(error: unknown, secrets: readonly string[]): void {
  let current: unknown = error;
  while (current instanceof Error) {
    const text = `${current.message} ${JSON.stringify((current as SigwardError).details ?? {})}`;
    for (const secret of secrets) assert.ok(!text.includes(secret), `error leaks a secret: ${text}`);
    current = current.cause;
  }
}
