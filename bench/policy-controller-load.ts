// The load client of `npm run bench:policy-controller`, its own process so that it shares no event loop
// with the harness: POSTs AdmissionReviews to one webhook over HTTPS keep-alive with N connections (as
// the apiserver opens one connection per concurrent call). Each request takes the next body of the
// file (one JSON review per line): a cold run gives every request its own never-seen image, a warm run
// repeats one. The first N bodies open and warm the N connections and are not measured. Every answer
// must be 200 with allowed: true (anything else fails the run, never counted as fast).
// Prints {requests, rps, p50Ms, p99Ms} as JSON.
//   node bench/policy-controller-load.ts URL CA_FILE SERVERNAME|- CONNECTIONS BODIES_FILE
import { readFileSync } from 'node:fs';
import { postReview, quantile } from './post-review.ts';
import { webhookAgent } from './policy-controller-tls.ts';

const [url, caFile, servername, connectionsText, bodiesFile] = process.argv.slice(2);
if (url === undefined || caFile === undefined || bodiesFile === undefined)
  throw new Error('usage: policy-controller-load.ts URL CA_FILE SERVERNAME|- CONNECTIONS BODIES_FILE');
const connections = Number(connectionsText ?? 1);
const bodies = readFileSync(bodiesFile, 'utf8')
  .split('\n')
  .filter((line) => line !== '')
  .map((line) => Buffer.from(line, 'utf8'));
if (bodies.length <= connections) throw new Error(`${bodies.length} bodies for ${connections} connections`);
const agent = webhookAgent(readFileSync(caFile, 'utf8'), servername ?? '-', connections);

const latencies: number[] = [];
const post = (body: Buffer): Promise<number> => postReview(url, agent, body);

let next = 0;
await Promise.all(Array.from({ length: connections }, () => post(bodies[next++]!)));
const started = performance.now();
await Promise.all(
  Array.from({ length: connections }, async () => {
    while (next < bodies.length) latencies.push(await post(bodies[next++]!));
  }),
);
const seconds = (performance.now() - started) / 1000;
agent.destroy();
const sorted = [...latencies].sort((a, b) => a - b);
const at = (p: number): number => quantile(sorted, p);
process.stdout.write(
  `${JSON.stringify({ requests: sorted.length, rps: sorted.length / seconds, p50Ms: at(0.5), p99Ms: at(0.99) })}\n`,
);
