/**
 * Logging: pino, injected everywhere as a child logger with its ids bound
 * once (STYLE.md 8). Pretty output on a TTY, JSON lines otherwise, so the
 * daemon reads well in a terminal and parses well in a log pipeline.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Force pretty (true) or JSON (false) output; default: pretty when stdout is a TTY. */
  pretty?: boolean;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? 'info';
  const usePretty = opts.pretty ?? process.stdout.isTTY === true;
  if (usePretty) {
    // In-thread pretty stream (no transport worker), so lines are written
    // before the process exits on a signal.
    return pino({ level, base: { name: 'sfud' } }, pretty({ colorize: true, sync: true, ignore: 'pid,hostname' }));
  }
  return pino({ level, base: { name: 'sfud' } });
}

/** A logger that drops everything: the default for embedded use until one is injected. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
