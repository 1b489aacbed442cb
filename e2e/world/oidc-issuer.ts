// A minimal OIDC issuer on 127.0.0.1: discovery document, JWKS and RS256 ID tokens with the claims the
// test chooses (like sigstore/scaffolding's fakeoidc). Fulcio verifies its tokens for real (discovery,
// signature, audience, expiry); it stands in for identity providers the world does not run, e.g. an
// `email` issuer for human identities, or a Kubernetes-shaped issuer when no apiserver is at hand.
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import http from 'node:http';
import { loopback } from './ports.ts';

export interface OidcIssuerServer {
  /** The issuer URL, exactly as in the tokens' `iss`. */
  issuer: string;
  /** An RS256 ID token: `iss`, `iat`, `nbf`, `exp` and `jti` are set, everything else is `claims`. */
  mintToken(
    claims: { sub: string; aud: string | string[] } & Record<string, unknown>,
    ttlSeconds?: number,
  ): string;
  /** A token shaped like a Kubernetes service-account token (TokenRequest API). */
  kubernetesToken(namespace: string, serviceAccount: string, audience?: string): string;
  stop(): Promise<void>;
}

const b64url = (data: string | Buffer): string => Buffer.from(data).toString('base64url');

export async function startOidcIssuer(): Promise<OidcIssuerServer> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomUUID();
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' };
  let issuer = '';

  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.url === '/.well-known/openid-configuration') {
      send(200, {
        issuer,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['id_token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
      });
    } else if (req.url === '/jwks') send(200, { keys: [jwk] });
    else send(404, { error: 'not found' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: loopback, port: 0 }, resolve);
  });
  const address = server.address();
  issuer = `http://${loopback}:${typeof address === 'object' && address !== null ? address.port : 0}`;

  const mintToken: OidcIssuerServer['mintToken'] = (claims, ttlSeconds = 600) => {
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid }));
    const payload = b64url(
      JSON.stringify({
        iss: issuer,
        iat: now,
        nbf: now,
        exp: now + ttlSeconds,
        jti: randomUUID(),
        ...claims,
      }),
    );
    const signature = sign('sha256', Buffer.from(`${header}.${payload}`), privateKey);
    return `${header}.${payload}.${b64url(signature)}`;
  };

  return {
    issuer,
    mintToken,
    kubernetesToken: (namespace, serviceAccount, audience = 'sigstore') =>
      mintToken({
        sub: `system:serviceaccount:${namespace}:${serviceAccount}`,
        aud: [audience],
        'kubernetes.io': { namespace, serviceaccount: { name: serviceAccount, uid: randomUUID() } },
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
