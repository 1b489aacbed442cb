// Policies from a directory of YAML files (`--policies DIR`), instead of the cluster's resources: every
// *.yaml / *.yml / *.json file, each possibly several documents, of the three kinds. The directory is
// re-read when it changes, so editing a file changes the next decision without a restart. A file that
// does not parse keeps the previous snapshot and is reported.
import { readFileSync, readdirSync, watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { SigwardError, withoutExcerpt } from '../errors.ts';
import { buildSnapshot } from './snapshot.ts';
import type { PolicySnapshot } from './snapshot.ts';

export function readPolicyDirectory(dir: string): unknown[] {
  const files = readdirSync(dir)
    .filter((f) => /\.(ya?ml|json)$/.test(f))
    .sort();
  const resources: unknown[] = [];
  for (const file of files) {
    const path = join(dir, file);
    for (const doc of parseAllDocuments(readFileSync(path, 'utf8'))) {
      if (doc.errors.length > 0)
        throw new SigwardError(
          'POLICY_FILE_INVALID',
          `${path}: ${withoutExcerpt(doc.errors[0]?.message ?? 'invalid YAML')}`,
        );
      const value: unknown = doc.toJS();
      if (value === null || value === undefined) continue;
      resources.push(value);
    }
  }
  return resources;
}

export interface FilePolicySourceEvents {
  changed?(snapshot: PolicySnapshot): void;
  failed?(error: unknown): void;
}

export class FilePolicySource {
  readonly #dir: string;
  readonly #events: FilePolicySourceEvents;
  #snapshot: PolicySnapshot;
  #watcher: FSWatcher | undefined;
  #pending: ReturnType<typeof setTimeout> | undefined;

  constructor(dir: string, events: FilePolicySourceEvents = {}) {
    this.#dir = dir;
    this.#events = events;
    this.#snapshot = buildSnapshot(readPolicyDirectory(dir));
  }

  current(): PolicySnapshot {
    return this.#snapshot;
  }

  get synced(): boolean {
    return true;
  }

  /** Re-reads the directory now; keeps the previous snapshot when it does not parse. */
  reload(): PolicySnapshot {
    try {
      const next = buildSnapshot(readPolicyDirectory(this.#dir));
      if (next.generation !== this.#snapshot.generation) {
        this.#snapshot = next;
        this.#events.changed?.(next);
      }
    } catch (error) {
      this.#events.failed?.(error);
    }
    return this.#snapshot;
  }

  watch(): void {
    this.#watcher ??= watch(this.#dir, { persistent: false }, () => {
      if (this.#pending) clearTimeout(this.#pending);
      this.#pending = setTimeout(() => this.reload(), 50);
    });
  }

  stop(): Promise<void> {
    this.#watcher?.close();
    this.#watcher = undefined;
    if (this.#pending) clearTimeout(this.#pending);
    return Promise.resolve();
  }
}
