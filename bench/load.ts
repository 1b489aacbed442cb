// The load client of `npm run bench`, run as its own process so it does not share the server's event
// loop: POSTs one body over HTTPS keep-alive with N connections (as the apiserver opens one connection
// per concurrent call) and prints {rps, p50, p99} as JSON. Warms every connection first; with --wait it
// then prints `warm` and waits for a line on stdin, so a measuring window opened in between holds no TLS
// handshake and no connection's first request (bench/measure.ts).
//   node bench/load.ts URL BODY_FILE CA_FILE CONNECTIONS TOTAL [--wait]
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { postReview, quantile } from './post-review.ts';

const [url, bodyFile, caFile, connectionsText, totalText, waitFlag] = process.argv.slice(2);
if (url === undefined || bodyFile === undefined || caFile === undefined)
  throw new Error('usage: load.ts URL BODY_FILE CA_FILE CONNECTIONS TOTAL');
const body = readFileSync(bodyFile);
const connections = Number(connectionsText ?? 16);
const total = Number(totalText ?? 2000);
const agent = new https.Agent({ keepAlive: true, maxSockets: connections, ca: readFileSync(caFile, 'utf8') });

const latencies: number[] = [];
const one = async (): Promise<void> => void latencies.push(await postReview(url, agent, body));

let next = 0;
const worker = async (): Promise<void> => {
  while (next++ < total) await one();
};
await Promise.all(Array.from({ length: connections }, () => one()));
latencies.length = 0;
if (waitFlag === '--wait') {
  process.stdout.write('warm\n');
  await new Promise((resolve) => process.stdin.once('data', resolve));
  process.stdin.pause();
}
const started = performance.now();
await Promise.all(Array.from({ length: connections }, worker));
const seconds = (performance.now() - started) / 1000;
agent.destroy();
const sorted = [...latencies].sort((a, b) => a - b);
process.stdout.write(
  `${JSON.stringify({ rps: total / seconds, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) })}\n`,
);
