// The built daemon as a child process, its JSON log lines parsed as they come.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const SFUD_BIN = fileURLToPath(new URL('../../dist/bin/sfud.js', import.meta.url));

export interface DaemonRun {
  lines: Record<string, unknown>[];
  /** Everything written to stderr so far. */
  stderr: () => string;
  exit: Promise<number | null>;
  /** The first log line with this msg (already seen or to come), or a rejection after 10 s. */
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
        setTimeout(() => reject(new Error(`no "${msg}" within 10 s`)), 10_000).unref();
      }),
    kill: (sig) => child.kill(sig),
  };
}
