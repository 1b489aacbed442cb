// A test double of AWS ECR's registry authentication only, in front of a real registry (Debian's
// docker-registry) on loopback. Like ECR it answers every /v2/ request without credentials with a
// Basic challenge, and accepts only `Basic base64(AWS:<password>)` where the password is the one the
// AWS API (here moto's server, asked by this front itself) issues by GetAuthorizationToken for the
// registry's account. Any other password, another account's token or a token marked expired is
// refused with 401, as ECR does. Everything else (manifests, blobs, uploads) is the real registry's.
//
//   const front = await startEcrFront({ motoUrl: moto.url, account: '111122223333', region: 'eu-west-1' });
//   // front.registry: '111122223333.dkr.ecr.eu-west-1.amazonaws.com', served at front.endpoint
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { startDockerRegistry, type DockerRegistry } from './docker-registry.ts';
import { passToRegistry } from './registry-pass-through.ts';

export interface EcrFrontOptions {
  readonly motoUrl: string;
  readonly account: string;
  readonly region: string;
}

export interface EcrFront {
  /** The ECR registry name images use: `<account>.dkr.ecr.<region>.amazonaws.com`. */
  readonly registry: string;
  /** Where it listens: `127.0.0.1:<port>` (map the name to it with SIGWARD_TEST_REGISTRY_ENDPOINTS). */
  readonly endpoint: string;
  /** `name=endpoint`, the value of SIGWARD_TEST_REGISTRY_ENDPOINTS. */
  readonly endpointsEnv: string;
  readonly backend: DockerRegistry;
  /** Requests let through, and refusals by reason, since start. */
  readonly counts: { accepted: number; refused: Record<'missing' | 'wrong' | 'expired', number> };
  /** Refuse the token moto issues now as expired (what ECR does after its 12 h), until `renew`. */
  expireIssuedToken(): Promise<void>;
  renew(): void;
  stop(): Promise<void>;
}

export async function startEcrFront(options: EcrFrontOptions): Promise<EcrFront> {
  const registry = `${options.account}.dkr.ecr.${options.region}.amazonaws.com`;
  const backend = await startDockerRegistry();
  // The front's own AWS client: any key will do for moto, whose answer depends only on the account.
  const aws = new ECRClient({
    region: options.region,
    endpoint: options.motoUrl,
    credentials: { accessKeyId: 'AKIAECRFRONTTEST0000', secretAccessKey: 'ecr-front-test' },
  });
  const issuedPassword = async (): Promise<string> => {
    const answer = await aws.send(new GetAuthorizationTokenCommand({ registryIds: [options.account] }));
    const token = answer.authorizationData?.[0]?.authorizationToken;
    if (token === undefined) throw new Error('moto issued no ECR token');
    const decoded = Buffer.from(token, 'base64').toString('utf8');
    return decoded.slice(decoded.indexOf(':') + 1);
  };
  const expired = new Set<string>();
  const counts: EcrFront['counts'] = { accepted: 0, refused: { missing: 0, wrong: 0, expired: 0 } };

  const refuse = (res: http.ServerResponse, reason: keyof EcrFront['counts']['refused']): void => {
    counts.refused[reason]++;
    const message =
      reason === 'expired'
        ? 'Your authorization token has expired. Reauthenticate and try again.'
        : 'Not Authorized';
    res.writeHead(401, {
      'content-type': 'application/json; charset=utf-8',
      'docker-distribution-api-version': 'registry/2.0',
      'www-authenticate': `Basic realm="https://${registry}/",service="ecr.amazonaws.com"`,
    });
    res.end(JSON.stringify({ errors: [{ code: 'DENIED', message }] }));
  };

  const check = async (
    authorization: string | undefined,
  ): Promise<'ok' | 'missing' | 'wrong' | 'expired'> => {
    const match = /^Basic ([A-Za-z0-9+/=]+)$/.exec(authorization ?? '');
    if (match === null) return 'missing';
    const decoded = Buffer.from(match[1] ?? '', 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (decoded.slice(0, colon) !== 'AWS') return 'wrong';
    const password = decoded.slice(colon + 1);
    if (password !== (await issuedPassword())) return 'wrong';
    return expired.has(password) ? 'expired' : 'ok';
  };

  const server = http.createServer((req, res) => {
    void check(req.headers.authorization).then(
      (verdict) => {
        if (verdict !== 'ok') {
          req.resume();
          refuse(res, verdict);
          return;
        }
        counts.accepted++;
        passToRegistry(req, res, backend);
      },
      () => {
        res.writeHead(500);
        res.end('the ECR front could not ask moto');
      },
    );
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const endpoint = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    registry,
    endpoint,
    endpointsEnv: `${registry}=${endpoint}`,
    backend,
    counts,
    async expireIssuedToken() {
      expired.add(await issuedPassword());
    },
    renew: () => expired.clear(),
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      aws.destroy();
      await backend.stop();
    },
  };
}
