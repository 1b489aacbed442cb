// Client CPU of one registry request, layer by layer, when the answer comes at once and when it comes
// later (#14: the same verification costs more client CPU against slower registries). A loopback
// server in a child process answers a registry-sized response (a 1,100-byte blob, Content-Length):
//   now      in one write, at once;
//   later    in one write, 1 ms later (a timer: the server idles meanwhile, as a slow registry's client
//            sees it);
//   busy     in one write after 1 ms of the server's own CPU (a registry competing for the cores);
//   split    headers at once, body 1 ms later (two packets, two wake-ups);
//   chunked  Transfer-Encoding: chunked, at once.
// Clients, sequential keep-alive GETs:
//   socket     a bare net.Socket and 20 lines of parsing: the floor;
//   dispatch   undici's Agent.dispatch with a handler collecting the body;
//   request    undici's request() and body.arrayBuffer();
//   transport  sigward's HttpTransport.request (deadline, caller's signal, size caps, redirects);
//   client     sigward's RegistryClient.getBlob (the above, the session, the digest checked).
// Per mode and client: process CPU per request (medians of alternated blocks; getrusage, exact over
// a block: this kernel counts a running thread's time only at ticks and switches, so it cannot time
// one request), its system part, wall, and the main thread's voluntary context switches per request
// (a switch is a sleep in epoll_wait and the wake-up that ends it).
// `--wake` measures the same without any network: CPU of a loop turn that sleeps in a 2 ms timer
// against one that does not (setImmediate), and of the same work run right after the sleep against
// back to back: a small piece (JSON.parse and a SHA-256 of a 1 KB manifest, four times) and one
// cosign v3 bundle's verification.
//   node bench/request-cpu.ts [REQUESTS-PER-BLOCK] [ROUNDS] [CLIENTS,...] [MODES,...]
//   node bench/request-cpu.ts --wake [TURNS-PER-BLOCK] [ROUNDS]
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { Agent, request as undiciRequest, type Dispatcher } from 'undici';
import { RegistryClient } from '../src/oci/client.ts';
import { HttpTransport } from '../src/oci/http.ts';
import { parseBundle } from '../src/sigstore/bundle.ts';
import { verifyBundle } from '../src/sigstore/verify.ts';
import { kubewarden } from '../test/sigstore/discover-fixtures.ts';
import { prodRoot } from '../test/sigstore/ext.ts';
import { median } from './stats.ts';

const blob = Buffer.alloc(1100, 'x');
const blobDigest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
const allClients = ['socket', 'dispatch', 'request', 'transport', 'client'];
const allModes = ['now', 'later', 'busy', 'split', 'chunked'];

if (process.argv[2] === '--serve') serve();
else if (process.argv[2] === '--wake')
  await wake(Number(process.argv[3] ?? '1000'), Number(process.argv[4] ?? '7'));
else
  await measure(
    Number(process.argv[2] ?? '1000'),
    Number(process.argv[3] ?? '7'),
    (process.argv[4] ?? allClients.join(',')).split(','),
    (process.argv[5] ?? allModes.join(',')).split(','),
  );

/** The child: a raw HTTP/1.1 server; the mode is the path's first segment (or the repository's). */
function serve(): void {
  const head = (framing: string): Buffer =>
    Buffer.from(
      `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nDocker-Content-Digest: ${blobDigest}\r\n` +
        `Docker-Distribution-Api-Version: registry/2.0\r\nDate: ${new Date().toUTCString()}\r\n${framing}\r\n`,
    );
  const headers = head(`Content-Length: ${blob.length}\r\n`);
  const whole = Buffer.concat([headers, blob]);
  const chunked = Buffer.concat([
    head('Transfer-Encoding: chunked\r\n'),
    Buffer.from(`${blob.length.toString(16)}\r\n`),
    blob,
    Buffer.from('\r\n0\r\n\r\n'),
  ]);
  const answers: Record<string, (socket: net.Socket) => void> = {
    now: (socket) => socket.write(whole),
    later: (socket) => setTimeout(() => socket.write(whole), 1),
    busy: (socket) => {
      const end = performance.now() + 1;
      while (performance.now() < end); // the registry's own CPU
      socket.write(whole);
    },
    split: (socket) => {
      socket.write(headers);
      setTimeout(() => socket.write(blob), 1);
    },
    chunked: (socket) => socket.write(chunked),
  };
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    let pending = '';
    socket.on('data', (data: Buffer) => {
      pending += data.toString('latin1');
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        const path = pending.slice(0, end).split(' ')[1] ?? '';
        pending = pending.slice(end + 4);
        const segments = path.split('/');
        const answer = answers[(segments[1] === 'v2' ? segments[2] : segments[1]) ?? ''];
        if (answer === undefined) socket.write('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
        else answer(socket);
      }
    });
  });
  server.listen(0, '127.0.0.1', () => process.send!((server.address() as net.AddressInfo).port));
  process.on('disconnect', () => process.exit(0));
}

/** A GET on one keep-alive socket, the answer's end found by Content-Length or the last chunk. */
function socketClient(socket: net.Socket, host: string): (path: string) => Promise<void> {
  return (path) =>
    new Promise((resolve) => {
      let got: Buffer = Buffer.alloc(0);
      const onData = (data: Buffer): void => {
        got = got.length === 0 ? data : Buffer.concat([got, data]);
        const end = got.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = /content-length: (\d+)/i.exec(got.subarray(0, end).toString('latin1'));
        const done =
          length === null
            ? got.subarray(got.length - 5).toString('latin1') === '0\r\n\r\n'
            : got.length >= end + 4 + Number(length[1]);
        if (!done) return;
        socket.off('data', onData);
        resolve();
      };
      socket.on('data', onData);
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: bench\r\n\r\n`);
    });
}

function dispatchClient(agent: Agent, origin: string): (path: string) => Promise<void> {
  return (path) =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart: () => {},
        onResponseStart: () => {},
        onResponseData: (_controller, chunk) => void chunks.push(chunk),
        onResponseEnd: () => {
          Buffer.concat(chunks);
          resolve();
        },
        onResponseError: (_controller, error) => reject(error),
      };
      agent.dispatch({ origin, path, method: 'GET', headers: { 'user-agent': 'bench' } }, handler);
    });
}

/** The main thread's voluntary context switches so far (Linux; 0 elsewhere). */
function sleeps(): number {
  try {
    const status = readFileSync('/proc/thread-self/status', 'utf8');
    return Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

async function measure(perBlock: number, rounds: number, clients: string[], modes: string[]): Promise<void> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], { execArgv: [] });
  const [port] = (await once(child, 'message')) as [number];
  const host = `127.0.0.1:${port}`;
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await once(socket, 'connect');
  const agent = new Agent({ allowH2: false });
  const transport = new HttpTransport();
  const registry = new RegistryClient({ transport });
  const get: Record<string, (mode: string) => Promise<unknown>> = {
    socket: (
      (send) => (mode: string) =>
        send(`/${mode}/blob`)
    )(socketClient(socket, host)),
    dispatch: (
      (send) => (mode: string) =>
        send(`/${mode}/blob`)
    )(dispatchClient(agent, `http://${host}`)),
    request: async (mode) => {
      const response = await undiciRequest(`http://${host}/${mode}/blob`, { dispatcher: agent });
      await response.body.arrayBuffer();
    },
    transport: (mode) =>
      transport.request({ method: 'GET', url: new URL(`http://${host}/${mode}/blob`), maxBytes: 4 << 20 }),
    client: (mode) => registry.getBlob({ registry: host, repository: mode }, blobDigest),
  };
  for (const name of [...clients, ...modes]) {
    if (get[name] === undefined && !allModes.includes(name))
      throw new Error(`unknown client or mode ${name}`);
  }
  for (const mode of modes) for (const c of clients) for (let i = 0; i < 20; i++) await get[c]!(mode);
  for (let i = 0; i < 300; i++) for (const c of clients) await get[c]!('now');
  const figures = new Map<string, { cpu: number[]; system: number[]; wall: number[]; sleeps: number[] }>();
  for (let round = 0; round < rounds; round++) {
    for (const mode of modes) {
      for (const c of round % 2 === 0 ? clients : [...clients].reverse()) {
        const send = get[c]!;
        const sleeps0 = sleeps();
        const cpu0 = process.cpuUsage();
        const wall0 = performance.now();
        for (let i = 0; i < perBlock; i++) await send(mode);
        const wall = performance.now() - wall0;
        const cpu = process.cpuUsage(cpu0);
        const f = figures.get(`${mode} ${c}`) ?? { cpu: [], system: [], wall: [], sleeps: [] };
        f.cpu.push((cpu.user + cpu.system) / perBlock);
        f.system.push(cpu.system / perBlock);
        f.wall.push((wall * 1000) / perBlock);
        f.sleeps.push((sleeps() - sleeps0) / perBlock);
        figures.set(`${mode} ${c}`, f);
      }
    }
  }
  console.log(`${perBlock} requests per block, ${rounds} rounds alternated; medians per request`);
  console.log('mode     client     CPU µs  system µs  wall µs  sleeps');
  for (const [key, f] of figures) {
    const [mode, c] = key.split(' ') as [string, string];
    console.log(
      `${mode.padEnd(8)} ${c.padEnd(10)} ${median(f.cpu).toFixed(1).padStart(6)} ${median(f.system).toFixed(1).padStart(10)} ${median(f.wall).toFixed(0).padStart(8)} ${median(f.sleeps).toFixed(2).padStart(7)}`,
    );
  }
  socket.destroy();
  await agent.close();
  await registry.close();
  child.disconnect();
}

/**
 * A loop turn that sleeps against one that does not, and each piece of work right after either: a
 * small one (JSON.parse and a SHA-256 of a 1 KB manifest, four times) and one cosign v3 bundle's
 * verification (parse + verifyBundle, warm trust root). Block differences: (turn + work) − turn.
 */
async function wake(perBlock: number, rounds: number): Promise<void> {
  const manifest = JSON.stringify({
    layers: Array.from({ length: 6 }, (_, i) => ({
      digest: `sha256:${String(i).repeat(64)}`,
      size: 1000 + i,
    })),
  });
  const trust = prodRoot().material;
  const bundle = kubewarden.bundle();
  const works: Record<string, () => void> = {
    small: () => {
      for (let i = 0; i < 4; i++) {
        JSON.parse(manifest);
        createHash('sha256').update(manifest).digest('hex');
      }
    },
    bundle: () => {
      verifyBundle({
        bundle: parseBundle(bundle),
        trust,
        signer: { kind: 'keyless' },
        content: { kind: 'image', digest: kubewarden.digest },
      });
    },
  };
  const turns: Record<string, () => Promise<void>> = {
    awake: () => new Promise((resolve) => setImmediate(resolve)),
    slept: () => new Promise((resolve) => setTimeout(resolve, 2)),
  };
  for (const work of Object.values(works)) for (let i = 0; i < 300; i++) work();
  const cpu: Record<string, number[]> = {};
  for (let round = 0; round < rounds; round++) {
    for (const [name, work] of Object.entries(works)) {
      // The bundle's ~2 ms per turn: a tenth of the turns keeps its blocks as long as the small one's.
      const turnsInBlock = name === 'bundle' ? Math.ceil(perBlock / 10) : perBlock;
      for (const turn of round % 2 === 0 ? ['awake', 'slept'] : ['slept', 'awake']) {
        for (const withWork of [true, false]) {
          const start = process.cpuUsage();
          for (let i = 0; i < turnsInBlock; i++) {
            await turns[turn]!();
            if (withWork) work();
          }
          const used = process.cpuUsage(start);
          (cpu[`${name} ${turn}${withWork ? '+work' : ''}`] ??= []).push(
            (used.user + used.system) / turnsInBlock,
          );
        }
      }
    }
  }
  const m = (key: string): string => median(cpu[key]!).toFixed(1);
  const work = (key: string): string => (median(cpu[`${key}+work`]!) - median(cpu[key]!)).toFixed(1);
  console.log(`${perBlock} turns per block, ${rounds} rounds alternated; medians, CPU µs`);
  console.log(`a turn without sleeping (setImmediate): ${m('small awake')}`);
  console.log(`a turn that sleeps 2 ms in a timer:     ${m('small slept')}`);
  for (const name of Object.keys(works)) {
    console.log(
      `${name} work: back to back ${work(`${name} awake`)}, right after the sleep ${work(`${name} slept`)}`,
    );
  }
}
