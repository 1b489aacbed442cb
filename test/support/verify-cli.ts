// `sigward verify` run in-process with its output captured: what the CLI credential tests read back.
import { runVerify } from '../../src/cli/verify.ts';
import { kubewarden } from '../sigstore/discover-fixtures.ts';
import { PROD_ROOT_PATH } from '../sigstore/ext.ts';

export interface VerifyRun {
  code: number;
  out: string;
  err: string;
}

/** Runs `sigward verify` with these arguments and environment; returns the exit code and both streams. */
export async function verifyCaptured(args: readonly string[], env: NodeJS.ProcessEnv): Promise<VerifyRun> {
  let out = '';
  let err = '';
  const code = await runVerify(args, { out: (t) => (out += t), err: (t) => (err += t) }, env);
  return { code, out, err };
}

/** Verifies the kubewarden release (public-good keyless, prod root) pushed to `repository` (`host/path`). */
export function verifyKubewardenAt(
  repository: string,
  flag: string,
  env: NodeJS.ProcessEnv,
): Promise<VerifyRun> {
  return verifyCaptured(
    [
      `--trusted-root=${PROD_ROOT_PATH}`,
      `--certificate-identity=${kubewarden.subject}`,
      `--certificate-oidc-issuer=${kubewarden.issuer}`,
      flag,
      `${repository}@${kubewarden.digest}`,
    ],
    env,
  );
}
