// A test double of Artifact Registry's (and GCR's) authentication, in front of a real registry on
// loopback (test/support/bearer-front.ts). Like Google's registries it sends clients to its token
// service with a Bearer challenge, and there accepts only Basic `oauth2accesstoken:<access token>`
// where the access token is one Google issued (here: the doubles of google-doubles.ts, through their
// shared ledger), still valid, and carrying a scope the registry honours (cloud-platform). Any other
// username, an unknown or expired token, or a token without that scope is refused with 401.
//
//   const front = await startGarFront({ tokens, registry: 'europe-docker.pkg.dev' });
import { startBearerFront, type Authorization, type BearerFront } from './bearer-front.ts';
import { CLOUD_PLATFORM_SCOPE, type GoogleTokens } from './google-doubles.ts';

export async function startGarFront(options: {
  readonly tokens: GoogleTokens;
  readonly registry?: string;
}): Promise<BearerFront> {
  return startBearerFront({
    registry: options.registry ?? 'europe-docker.pkg.dev',
    realmPath: '/v2/token',
    authorize: ({ basic }): Authorization => {
      if (basic === undefined) return { reason: 'missing' };
      if (basic.username !== 'oauth2accesstoken') return { reason: 'username' };
      const checked = options.tokens.check(basic.password);
      if (!checked.ok) return { reason: `${checked.why}-token` };
      if (!checked.issued.scopes.includes(CLOUD_PLATFORM_SCOPE))
        return { reason: 'scope', status: 403, code: 'DENIED' };
      return true;
    },
  });
}
