// A registry failure during verification is an answer, not a crash: the verdict says the registry
// failed and what is therefore unknown. Anything thrown that is not a registry failure is a bug.
import { SigwardError } from '../errors.ts';

/** The common fields of an `error` verdict. */
export interface RegistryFailureVerdict {
  readonly image: string;
  readonly digest: string;
  readonly status: 'error';
  /** The registry's REGISTRY_* code. */
  readonly code: string;
  readonly message: string;
}

/**
 * `registry failure while <doing>, so <unknown> is unknown: <the error>` for a REGISTRY_* error;
 * anything else is thrown again.
 */
export function registryFailureVerdict(
  error: unknown,
  image: string,
  digest: string,
  doing: string,
  unknown: string,
): RegistryFailureVerdict {
  if (!(error instanceof SigwardError) || !error.code.startsWith('REGISTRY_')) throw error;
  return {
    image,
    digest,
    status: 'error',
    code: error.code,
    message: `registry failure while ${doing}, so ${unknown} is unknown: ${error.message}`,
  };
}
