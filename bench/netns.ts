/**
 * The bench's private network namespace. Janus never gathers ICE candidates
 * on IFF_LOOPBACK interfaces, so the runner re-executes itself under
 * `unshare -n` (root) or `unshare -rn` (an unprivileged user namespace) in a
 * namespace with `lo` up and a veth pair carrying 127.0.0.2/32: an address in
 * the loopback range that is delivered locally but sits on a non-loopback
 * link. Every server and the load generator run inside, so all of them share
 * the same network stack, and /proc/net/udp lists only the bench's sockets.
 * libnice also ignores checks from 127.0.0.1 peers (seen with Janus 1.1.2 and
 * libnice 0.1.21: no response, no checks of its own), so inside the namespace
 * every server and client binds 127.0.0.2.
 */
import { spawn, spawnSync } from 'node:child_process';

export const NETNS_ENV = 'SFUD_BENCH_NETNS';
/** The veth address in the namespace: servers and clients bind it there. */
export const NETNS_HOST = '127.0.0.2';

export const NETNS_SETUP =
  `ip link set lo up && ip link add v0 type veth peer name v1 && ip addr add ${NETNS_HOST}/32 dev v0 && ip link set v0 up && ip link set v1 up`;

export function inBenchNetns(): boolean {
  return process.env[NETNS_ENV] === '1';
}

function unshareFlag(): string {
  return process.getuid?.() === 0 ? '-n' : '-rn';
}

/** Whether a namespace can be made here (a quick dry run of the setup). Returns the reason when not. */
export function netnsProbe(): { ok: true } | { ok: false; reason: string } {
  const r = spawnSync('unshare', [unshareFlag(), 'sh', '-c', NETNS_SETUP], { encoding: 'utf8', timeout: 10_000 });
  if (r.error) return { ok: false, reason: `unshare: ${r.error.message}` };
  if (r.status !== 0) return { ok: false, reason: `unshare ${unshareFlag()} failed: ${r.stderr.trim().split('\n')[0] ?? `exit ${r.status}`}` };
  return { ok: true };
}

/**
 * Runs this same script with the same arguments inside a fresh namespace and
 * resolves with its exit code. stdio is inherited.
 */
export function reexecInNetns(): Promise<number> {
  const args = [unshareFlag(), 'sh', '-c', `${NETNS_SETUP} && exec "$0" "$@"`, process.execPath, ...process.execArgv, ...process.argv.slice(1)];
  const child = spawn('unshare', args, { stdio: 'inherit', env: { ...process.env, [NETNS_ENV]: '1' } });
  const forward = (sig: NodeJS.Signals): void => {
    child.kill(sig);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? (signal ? 128 : 1));
    });
    child.on('error', () => resolve(1));
  });
}
