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

/** True when process `pid` holds the socket listening on 127.0.0.1:<port>; undefined when unknowable. */
export function ownsListener(pid: number, port: number): boolean | undefined {
  const inodes = listeningInodes(port);
  if (inodes === undefined) return undefined;
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false; // the process is gone
  }
  for (const fd of fds) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode !== undefined && inodes.has(inode)) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}
