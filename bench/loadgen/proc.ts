/**
 * Process and socket accounting from /proc (Linux only): CPU seconds of a
 * process over all its threads, its resident memory, and per-socket UDP drop
 * counters (so a loss can be blamed on the receiver that dropped it).
 */
import { readFileSync } from 'node:fs';

/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat; 100 on every Linux ABI Node runs on. */
const CLK_TCK = 100;

/** utime + stime of every thread of `pid`, in seconds (10 ms resolution). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  // comm (field 2) may contain spaces and parentheses: split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state), so utime (field 14) is rest[11] and stime (15) rest[12].
  return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
}

/** Resident set size of `pid` in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

/**
 * UDP receive drops per local port (IPv4 sockets in this network namespace),
 * from the last column of /proc/net/udp: datagrams the kernel discarded
 * because the socket's receive buffer was full.
 */
export function udpDropsByPort(): Map<number, number> {
  const out = new Map<number, number>();
  for (const [port, q] of udpSockets()) out.set(port, q.drops);
  return out;
}

export interface UdpSocketState {
  /** Bytes waiting in the receive queue (rx_queue, kernel accounting incl. overhead). */
  rxQueue: number;
  drops: number;
}

/** Receive-queue bytes and drops per local UDP port (summed when several sockets share one). */
export function udpSockets(): Map<number, UdpSocketState> {
  const out = new Map<number, UdpSocketState>();
  let text: string;
  try {
    text = readFileSync('/proc/net/udp', 'latin1');
  } catch {
    return out;
  }
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i]!.trim().split(/\s+/);
    if (f.length < 13) continue;
    const port = parseInt(f[1]!.split(':')[1]!, 16);
    const drops = Number(f[f.length - 1]);
    const rx = parseInt(f[4]!.split(':')[1]!, 16);
    const cur = out.get(port) ?? { rxQueue: 0, drops: 0 };
    cur.drops += Number.isFinite(drops) ? drops : 0;
    cur.rxQueue += Number.isFinite(rx) ? rx : 0;
    out.set(port, cur);
  }
  return out;
}

/** Busy CPU seconds of the whole host (all CPUs, from /proc/stat): to see load from other processes. */
export function hostBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]!;
  // cpu user nice system idle iowait irq softirq steal ...
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0);
  return busy / CLK_TCK;
}

/** Sum of `read(pid)` over processes; a process that is gone counts 0. */
export function sumOverPids(pids: readonly number[], read: (pid: number) => number): number {
  let sum = 0;
  for (const pid of pids) {
    try {
      sum += read(pid);
    } catch {
      // exited
    }
  }
  return sum;
}
