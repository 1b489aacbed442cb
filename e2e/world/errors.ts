// Errors of the local test world. Each says in one line what is wrong and what to do, because the
// person reading it is running `npm run stack` or a failed e2e test, not debugging the harness.
export class WorldError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'WorldError';
    this.code = code;
  }
}
