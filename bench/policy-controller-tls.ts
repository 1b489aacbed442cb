// The bench's HTTPS keep-alive agent for one webhook, trusting only that webhook's CA.
//
// policy-controller's serving certificate is made by knative (webhook/certificates/resources) with the
// same subject as the CA that signs it and no subject key identifier (Go's x509 sets none on a leaf).
// OpenSSL then takes the leaf for self-signed and refuses it before any name check, while Go (the
// apiserver) builds the chain and accepts it. For
// that webhook (a server name is given) the agent lets the handshake finish and checks the certificate
// itself on every new connection as its handshake completes: signed by the CA's key, issued by it,
// within its validity, naming `servername`; anything else destroys the socket with the reason, so no
// answer of an unverified server is ever read.
import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';

function checkLeaf(
  leaf: X509Certificate | undefined,
  ca: X509Certificate,
  servername: string,
): Error | undefined {
  if (leaf === undefined) return new Error('the webhook sent no certificate');
  const now = Date.now();
  if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey))
    return new Error(`certificate of ${leaf.subject} is not signed by the webhook's CA`);
  if (now < Date.parse(leaf.validFrom) || now > Date.parse(leaf.validTo))
    return new Error(`certificate valid ${leaf.validFrom} to ${leaf.validTo}, not now`);
  if (leaf.checkHost(servername) === undefined) return new Error(`certificate does not name ${servername}`);
  return undefined;
}

/** servername '-': ordinary verification against `caPem` (the URL's IP must be in the certificate). */
export function webhookAgent(caPem: string, servername: string, maxSockets: number): https.Agent {
  const base = { keepAlive: true, maxSockets, minVersion: 'TLSv1.2' as const };
  if (servername === '-') return new https.Agent({ ...base, ca: caPem });
  const ca = new X509Certificate(caPem);
  class CheckingAgent extends https.Agent {
    override createConnection(options: tls.ConnectionOptions): Duplex {
      const socket = tls.connect({ ...options, servername, rejectUnauthorized: false });
      socket.once('secureConnect', () => {
        const failure = checkLeaf(socket.getPeerX509Certificate(), ca, servername);
        if (failure !== undefined) socket.destroy(failure);
      });
      return socket;
    }
  }
  return new CheckingAgent(base);
}
