// One AdmissionReview POSTed over a keep-alive agent, for the load clients of the benches (bench/load.ts,
// bench/policy-controller-load.ts): resolves to its latency in ms; anything but 200 with `allowed: true`
// rejects (a failed run is never counted as fast).
import https from 'node:https';

export function postReview(url: string, agent: https.Agent, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const req = https.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': body.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200 || !/"allowed":\s*true/.test(text))
            reject(new Error(`${url} answered ${res.statusCode}: ${text.slice(0, 600)}`));
          else resolve(performance.now() - t);
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The p-quantile (0..1) of ascending `sorted`. */
export const quantile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
