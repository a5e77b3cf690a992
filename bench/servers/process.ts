/**
 * Child-process plumbing shared by the server specs: free ports, spawning with
 * a bounded log, waiting for an HTTP endpoint to answer, stopping with SIGTERM
 * then SIGKILL. Every wait is bounded.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';

export async function freeTcpPort(host = '127.0.0.1'): Promise<number> {
  const srv = createServer();
  await new Promise<void>((res, rej) => {
    srv.once('error', rej);
    srv.listen(0, host, res);
  });
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((res) => srv.close(() => res()));
  return port;
}

export async function freeUdpPort(host = '127.0.0.1'): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((res, rej) => {
    s.once('error', rej);
    s.bind(0, host, res);
  });
  const port = s.address().port;
  await new Promise<void>((res) => s.close(() => res()));
  return port;
}

export interface Child {
  child: ChildProcess;
  pid: number;
  /** The first 200 lines of stdout and stderr. */
  log: string[];
}

export function spawnLogged(cmd: string, args: readonly string[], opts: SpawnOptions = {}): Child {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  const log: string[] = [];
  const keep = (d: Buffer): void => {
    for (const line of d.toString().split('\n')) if (line && log.length < 200) log.push(line);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  // A missing binary is an 'error' event, not a throw: keep it for the caller to see.
  child.on('error', (err) => log.push(`spawn error: ${err.message}`));
  if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
  return { child, pid: child.pid, log };
}

/** Polls `url` until it answers 2xx, the child exits, or `timeoutMs` passes. */
export async function waitForHttp(c: Child, url: string, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (c.child.exitCode !== null || c.child.signalCode !== null) {
      throw new Error(`${what} exited (${c.child.exitCode ?? c.child.signalCode}):\n${c.log.slice(0, 30).join('\n')}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  c.child.kill('SIGKILL');
  throw new Error(`${what} did not answer ${url} within ${timeoutMs} ms:\n${c.log.slice(0, 30).join('\n')}`);
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the child has exited. */
export async function stopChild(c: Child, graceMs = 10_000): Promise<void> {
  if (c.child.exitCode !== null || c.child.signalCode !== null) return;
  const exited = new Promise<void>((res) => c.child.once('exit', () => res()));
  c.child.kill('SIGTERM');
  const t = setTimeout(() => c.child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
}
