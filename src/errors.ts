// One base error for the whole project. Callers branch on `code`, never on message text, and
// `details` holds only values that are safe to log or show to a user: never tokens, keys or secrets.

export type SafeDetails = Readonly<Record<string, string | number | boolean | undefined>>;

export class SigwardError extends Error {
  readonly code: string;
  readonly details: SafeDetails;

  constructor(code: string, message: string, options: { cause?: unknown; details?: SafeDetails } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SigwardError';
    this.code = code;
    this.details = options.details ?? {};
  }
}

/** The message of anything thrown, for places that must turn an unknown failure into words. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
