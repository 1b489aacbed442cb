// The benches' cold figures verify ONE real public-good signature over and over: since the leaf memo
// (src/sigstore/leaf-memo.ts) every verification after the first would find its certificate remembered,
// which no new image signed by a new certificate does. These turn it off for a tree that has it, so
// cold rows measure a leaf seen for the first time and stay comparable with older trees. The verify
// rows measure "the same certificate again" on purpose in a case of their own (bench/measure.ts).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** In this process: memos made from now on remember nothing (before any verification of `root`'s code). */
export async function leafMemoOff(root: string): Promise<void> {
  const file = join(root, 'src/sigstore/leaf-memo.ts');
  if (!existsSync(file)) return;
  const { setLeafMemoEntries } = (await import(pathToFileURL(file).href)) as {
    setLeafMemoEntries: (n: number) => void;
  };
  setLeafMemoEntries(0);
}

/** The flag that turns it off in `root`'s `sigward webhook` (none for a tree without it). */
export function leafMemoOffFlag(root: string): string[] {
  const webhook = join(root, 'src/cli/webhook.ts');
  return existsSync(webhook) && readFileSync(webhook, 'utf8').includes("'leaf-memo-entries'")
    ? ['--leaf-memo-entries=0']
    : [];
}
