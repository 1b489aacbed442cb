// The world's AWS: moto's server (the AWS API emulator: STS, ECR) and an ECR-shaped registry, both on
// loopback, with the same starters as the npm-test tier (test/support/moto.ts, test/support/ecr-front.ts:
// Debian's docker-registry behind a test double of ECR's authentication only, which accepts nothing but
// the token moto's GetAuthorizationToken issues for the account). Nothing here gives anyone an
// identity: a process reaches AWS and the registry through `network`, and gets credentials only from
// its own web identity token (IRSA) like on EKS.
//
// moto's ECR tokens carry expiresAt 2015-01-01 (moto's constant), so sigward keeps none of them (a token
// already past its refresh margin is used for one request, src/cloud/ecr.ts): against moto each registry
// round trip asks GetAuthorizationToken again, where real ECR's 12 h token is held for 11.5 h.
import { copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startEcrFront, type EcrFront } from '../../test/support/ecr-front.ts';
import { startMoto, type Moto } from '../../test/support/moto.ts';
import { WorldError } from './errors.ts';
import { pushImage, type ImageTools, type PushedImage } from './images.ts';
import type { RunDir } from './run-dir.ts';

export interface AwsOptions {
  /** The ECR registry's account (12 digits). */
  readonly account: string;
  readonly region: string;
}

export interface WorldAws {
  readonly account: string;
  readonly region: string;
  /** `<account>.dkr.ecr.<region>.amazonaws.com`: the name images use. */
  readonly registry: string;
  readonly front: EcrFront;
  /**
   * What stands in for DNS and the network in this world, for any process that talks to AWS or the
   * registry: AWS's endpoints are moto's (AWS_ENDPOINT_URL), the ECR name is the front's loopback
   * address (SIGWARD_TEST_REGISTRY_ENDPOINTS), and there is no instance metadata service and no shared
   * AWS config file (never this machine's, should it have them). No identity, no key.
   */
  readonly network: Readonly<Record<string, string>>;
  /** `arn:aws:iam::<account>:role/<name>` */
  roleArn(name: string): string;
  /**
   * An image pushed into the registry's storage directly (as a build pipeline's push), named by the
   * ECR host: `<registry>/<repository>:<tag>`.
   */
  pushImage(tools: ImageTools, repository: string, tag: string): Promise<PushedImage>;
  /**
   * Every credential AWS has issued so far, read from moto's own state: the secret keys and session
   * tokens STS handed out (AssumeRoleWithWebIdentity), and the ECR authorization token with the
   * password it decodes to (what must never appear in a log, an error or a metric); and the role ARN
   * of each AssumeRoleWithWebIdentity.
   */
  issuedSecrets(): Promise<{ assumedRoles: string[]; secrets: string[] }>;
  stop(): Promise<void>;
}

interface MotoState {
  sts?: { AssumedRole?: { role_arn?: string; secret_access_key?: string; session_token?: string }[] };
}

export async function startAws(runDir: RunDir, options: AwsOptions): Promise<WorldAws> {
  const moto: Moto = await startMoto();
  let front: EcrFront;
  try {
    front = await startEcrFront({ motoUrl: moto.url, ...options });
  } catch (error) {
    await moto.stop();
    throw error;
  }
  const { registry } = front;
  // moto's GetAuthorizationToken answer for the account (asked by the front itself the same way).
  const ecrPassword = `${options.account}-auth-token`;
  const ecrToken = Buffer.from(`AWS:${ecrPassword}`).toString('base64');
  let stopped: Promise<void> | undefined;
  return {
    ...options,
    registry,
    front,
    network: {
      AWS_ENDPOINT_URL: moto.url,
      SIGWARD_TEST_REGISTRY_ENDPOINTS: front.endpointsEnv,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: path.join(runDir.root, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(runDir.root, 'no-aws-credentials'),
    },
    roleArn: (name) => `arn:aws:iam::${options.account}:role/${name}`,
    async pushImage(tools, repository, tag) {
      const pushed = await pushImage(tools, front.backend.host, repository, tag);
      return {
        ...pushed,
        host: registry,
        ref: `${registry}/${repository}:${tag}`,
        byDigest: `${registry}/${repository}@${pushed.digest}`,
      };
    },
    async issuedSecrets() {
      const response = await fetch(`${moto.url}/moto-api/data.json`);
      if (!response.ok) throw new WorldError('AWS_STATE', `moto's state: HTTP ${response.status}`);
      const state = (await response.json()) as MotoState;
      const roles = state.sts?.AssumedRole ?? [];
      const secrets = roles.flatMap((r) => [r.secret_access_key ?? '', r.session_token ?? '']);
      if (secrets.some((s) => s.length < 16))
        throw new WorldError('AWS_STATE', 'moto listed an assumed role without its secret key and token');
      return {
        assumedRoles: roles.map((r) => r.role_arn ?? ''),
        secrets: [...secrets, ecrToken, ecrPassword],
      };
    },
    stop() {
      stopped ??= (async () => {
        writeFileSync(path.join(runDir.logs, 'moto.log'), moto.output());
        try {
          copyFileSync(front.backend.logFile, path.join(runDir.logs, 'ecr-docker-registry.log'));
        } catch {
          // no log yet: nothing to keep
        }
        await front.stop();
        await moto.stop();
      })();
      return stopped;
    },
  };
}
