// What every registry operation needs: the authenticated session and the body limits.
import type { Scope } from './authenticator.ts';
import type { RepositoryName } from './reference.ts';
import type { ReferrersSupport } from './referrers-support.ts';
import type { Session } from './session.ts';

export interface Limits {
  /** Largest manifest or index accepted (also referrers pages and fallback indexes). */
  readonly maxManifestBytes: number;
  /** Largest blob accepted unless a call asks for less. */
  readonly maxBlobBytes: number;
}

export interface Context {
  readonly session: Session;
  readonly limits: Limits;
  /** Registries known to lack the referrers API (shared by every client over one transport). */
  readonly referrers?: ReferrersSupport;
}

export function pullScope(name: RepositoryName): Scope[] {
  return [{ repository: name.repository, actions: ['pull'] }];
}

export function pushScope(name: RepositoryName): Scope[] {
  return [{ repository: name.repository, actions: ['pull', 'push'] }];
}

/** `/v2/<repository>/<rest>`; repository paths are validated by reference.ts, so need no escaping. */
export function apiPath(name: RepositoryName, rest: string): string {
  return `/v2/${name.repository}/${rest}`;
}

export function signalOption(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal === undefined ? {} : { signal };
}
