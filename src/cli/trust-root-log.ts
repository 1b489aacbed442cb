// One log line per trust-root refresh outcome, naming the root, its version and source. A TUF refresh
// (hourly) is always logged at info; the per-minute checks of files, ConfigMaps and inline roots only
// when the version moved or a failure ended (debug otherwise), so a healthy webhook does not log a line
// a minute per root. A failure is always a warning with its error code.
import { describeError } from '../errors.ts';
import type { SigwardError } from '../errors.ts';
import type { Logger } from '../telemetry/index.ts';

export interface RootState {
  readonly version: string | undefined;
  /** `tuf:URL`, `file:PATH`, `configmap:NS/NAME#KEY`, `inline:NAME`, `embedded:@sigstore/tuf`. */
  readonly source: string | undefined;
}

export function trustRootRefreshLog(
  logger: Logger,
  stateOf: (trustRoot: string) => RootState | undefined,
): (trustRoot: string, error: SigwardError | undefined) => void {
  const loggedVersion = new Map<string, string>();
  return (name, error) => {
    const state = stateOf(name);
    const root = { trustRoot: name, version: state?.version ?? 'none', source: state?.source ?? 'none' };
    if (error !== undefined) {
      loggedVersion.delete(name);
      logger.warn(
        { ...root, reason: error.code, err: describeError(error) },
        'trust root refresh failed; keeping the last good root',
      );
      return;
    }
    const news = loggedVersion.get(name) !== root.version || root.source.startsWith('tuf:');
    loggedVersion.set(name, root.version);
    logger[news ? 'info' : 'debug'](root, 'trust root refreshed');
  };
}
