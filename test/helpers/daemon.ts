// The built daemon as a child process, its JSON log lines parsed as they come.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fromRoot } from './paths.js';

export const SFUD_BIN = fromRoot('dist/bin/sfud.js');

const WAIT_MS = 30_000;

export interface DaemonRun {
  lines: Record<string, unknown>[];
  /** Everything written to stderr so far. */
  stderr: () => string;
  exit: Promise<number | null>;
  /** The first log line with this msg (already seen or to come), or a rejection (and the daemon killed) after 30 s. */
  waitFor(msg: string): Promise<Record<string, unknown>>;
  kill(sig: NodeJS.Signals): void;
}

export function startDaemon(args: string[], env: NodeJS.ProcessEnv = {}): DaemonRun {
  const child = spawn(process.execPath, [SFUD_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const waiters: { msg: string; resolve: (l: Record<string, unknown>) => void }[] = [];
  createInterface({ input: child.stdout }).on('line', (text) => {
    const line = JSON.parse(text) as Record<string, unknown>;
    lines.push(line);
    for (const w of waiters.filter((w) => w.msg === line.msg)) w.resolve(line);
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    lines,
    stderr: () => stderr,
    exit,
    waitFor: (msg) =>
      new Promise((resolve, reject) => {
        const found = lines.find((l) => l.msg === msg);
        if (found) return resolve(found);
        waiters.push({ msg, resolve });
        // The daemon loads one shard (a worker thread) per core before it logs
        // 'media listening': on a loaded machine that takes a while. A daemon
        // that never logs it is killed, so the test fails instead of hanging.
        setTimeout(() => {
          reject(new Error(`no "${msg}" within 30 s`));
          child.kill('SIGKILL');
        }, WAIT_MS).unref();
      }),
    kill: (sig) => child.kill(sig),
  };
}
