// The command someone most likely meant when `sigward X` is not a command: `policy-test` (the name
// of policy-controller's `policy-tester`, kyverno's `kyverno test`) for `policy test`, a typo such as
// `verfy` for `verify`. Only a hint in the error: nothing is run under a guessed name.

export const COMMANDS: readonly string[] = [
  'webhook',
  'verify',
  'sign',
  'attest',
  'verify-attestation',
  'verify-bundle',
  'policy test',
  'convert',
];

const normalise = (name: string): string =>
  name
    .toLowerCase()
    .replace(/[-_\s]+/g, ' ')
    .trim();

function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(
        previous[j]! + 1,
        row[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    previous = row;
  }
  return previous[b.length]!;
}

/** The command `typed` most likely meant (same words, one of its words, or at most two letters off). */
export function suggestCommand(typed: string): string | undefined {
  const wanted = normalise(typed);
  if (wanted === '') return undefined;
  let best: { command: string; off: number } | undefined;
  for (const command of COMMANDS) {
    const known = normalise(command);
    // `test` alone is `policy test`'s last word: nearer than `attest`, two letters off.
    const off = known === wanted || known.split(' ').includes(wanted) ? 0 : distance(known, wanted);
    if (off <= 2 && (best === undefined || off < best.off)) best = { command, off };
  }
  return best?.command;
}
