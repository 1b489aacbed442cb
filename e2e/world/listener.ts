// Who listens on a loopback port. Two test processes can be handed the same free port; the loser's
// server fails to bind (olareg then even exits 0), but its readiness probe may already have been
// answered by the winner's server. Checking that the listening socket belongs to our child tells the two
// apart without waiting. Linux /proc only; elsewhere the check is skipped (returns undefined).
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Socket inodes in LISTEN state on 127.0.0.1:<port> (IPv4 table), or undefined without /proc. */
function listeningInodes(port: number): Set<string> | undefined {
  let table: string;
  try {
    table = readFileSync('/proc/net/tcp', 'utf8');
  } catch {
    return undefined;
  }
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set<string>();
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
    if (fields[1] === local && fields[3] === '0A' && fields[9] !== undefined) inodes.add(fields[9]);
  }
  return inodes;
}

function holdsAny(pid: number | string, inodes: ReadonlySet<string>): boolean {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false; // gone, or not ours to look at
  }
  for (const fd of fds) {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
      if (inode !== undefined && inodes.has(inode)) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}

/** True when process `pid` holds the socket listening on 127.0.0.1:<port>; undefined when unknowable. */
export function ownsListener(pid: number, port: number): boolean | undefined {
  const inodes = listeningInodes(port);
  return inodes === undefined ? undefined : holdsAny(pid, inodes);
}

/**
 * The command line (argv) of the process listening on 127.0.0.1:<port>, for a server started by code
 * that does not hand out its pid; undefined without /proc or when nobody listens.
 */
export function listenerCommand(port: number): string[] | undefined {
  const inodes = listeningInodes(port);
  if (inodes === undefined || inodes.size === 0) return undefined;
  let pids: number[];
  try {
    pids = readdirSync('/proc')
      .filter((entry) => /^\d+$/.test(entry))
      .map(Number)
      .sort((a, b) => b - a); // newest first: a server just started is found at once
  } catch {
    return undefined;
  }
  const pid = pids.find((candidate) => holdsAny(candidate, inodes));
  if (pid === undefined) return undefined;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}
