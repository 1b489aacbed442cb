// The temporary directory of one world: configs, keys, data and logs. A world that ends well removes it;
// one that failed keeps its logs under .e2e-logs/ in the repository, where a person (or CI) finds them.
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from './tools.ts';

export interface RunDir {
  readonly root: string;
  readonly logs: string;
  /** A fresh subdirectory for one service's files. */
  sub(name: string): string;
  /** Copies the logs to .e2e-logs/<time>-<label>/ and returns that path. */
  keepLogs(label: string): string;
  remove(): void;
}

export function createRunDir(prefix = 'sigward-world-'): RunDir {
  const root = mkdtempSync(path.join(os.tmpdir(), prefix));
  const logs = path.join(root, 'logs');
  mkdirSync(logs);
  return {
    root,
    logs,
    sub(name) {
      const dir = path.join(root, name);
      mkdirSync(dir, { recursive: true });
      return dir;
    },
    keepLogs(label) {
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      const safe = label.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80);
      const target = path.join(repoRoot, '.e2e-logs', `${stamp}-${safe}`);
      cpSync(logs, target, { recursive: true });
      return target;
    },
    remove() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}
