// Loopback ports for the world's services. Every service listens on 127.0.0.1 only.
import net from 'node:net';
import { WorldError } from './errors.ts';

export const loopback = '127.0.0.1';

// Ports handed out by this process and not yet bound by their service: the kernel could otherwise give
// the same ephemeral port twice between our probe and the service's bind.
const handedOut = new Set<number>();

function probe(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: loopback, port, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : port;
      server.close(() => resolve(bound));
    });
  });
}

/** A port on 127.0.0.1 that nothing listens on now and that this process has not handed out before. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await probe(0);
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new WorldError('NO_FREE_PORT', 'could not find a free port on 127.0.0.1');
}

/**
 * A port the user asked for (e.g. through an environment variable of `npm run stack`), checked now so a
 * clash is one clear line instead of a service dying later with a bind error in its log.
 */
export async function requestedPort(port: number, setting: string): Promise<number> {
  try {
    await probe(port);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'EADDRINUSE' ? 'is already in use' : `cannot be bound (${code ?? String(error)})`;
    throw new WorldError(
      'PORT_IN_USE',
      `port ${port} on ${loopback} ${reason}: stop what uses it or set ${setting} to another port`,
    );
  }
  handedOut.add(port);
  return port;
}
