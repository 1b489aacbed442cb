// Loads the AdmissionReview samples of test/fixtures/admission/ (realistic requests as kube-apiserver
// sends them: pods, every workload kind, subresources, UPDATE, DELETE, dry run).
import { readFileSync, readdirSync } from 'node:fs';

const dir = new URL('../fixtures/admission/', import.meta.url);

export const FIXTURE_NAMES: readonly string[] = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => f.slice(0, -'.json'.length))
  .sort();

/** A fresh parsed copy each time (tests may mutate it). */
export function fixture(name: string): Record<string, unknown> & { request: Record<string, unknown> } {
  return JSON.parse(readFileSync(new URL(`${name}.json`, dir), 'utf8')) as Record<string, unknown> & {
    request: Record<string, unknown>;
  };
}
