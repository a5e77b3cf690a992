#!/usr/bin/env node
// sfud daemon: flags, logging and signal handling; everything else is the library.
import { parseCli, HELP } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { ConfigError } from '../src/errors.js';
import { Sfu } from '../src/sfu.js';
import { VERSION } from '../src/version.js';

/** SIGINT (Ctrl-C) drains too, but briefly: someone at a terminal wants it gone. */
const SIGINT_DRAIN_MS = 2000;

async function main(): Promise<number> {
  let action;
  try {
    action = parseCli(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sfud: ${err.message}\n\n${HELP}`);
      return 2;
    }
    throw err;
  }
  switch (action.kind) {
    case 'help':
      process.stdout.write(HELP);
      return 0;
    case 'version':
      process.stdout.write(`${VERSION}\n`);
      return 0;
    case 'run':
      break;
  }
  const { config } = action;
  const log = createLogger({ level: config.logLevel, pretty: config.logPretty });
  if (action.configFile !== undefined) log.info({ file: action.configFile }, 'config file read');
  for (const warning of action.warnings) log.warn(warning);
  let sfu: Sfu;
  try {
    sfu = await Sfu.create({ config, logger: log });
  } catch (err) {
    if (err instanceof ConfigError) {
      log.fatal(err.message);
      process.stderr.write(`sfud: ${err.message}\n`);
      return 2;
    }
    log.fatal({ err }, 'sfud could not start');
    return 1;
  }
  log.info({ announcedIp: config.announcedIp, logLevel: config.logLevel, shards: config.shards, dataPlane: config.shards > 0 ? 'shards' : 'in-thread' }, 'sfud started');
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  // A second signal while draining or closing exits at once.
  const force = (second: NodeJS.Signals): void => {
    log.warn({ signal: second }, 'second signal: exiting now');
    process.exit(1);
  };
  process.once('SIGINT', force);
  process.once('SIGTERM', force);
  const timeoutMs = signal === 'SIGINT' ? Math.min(SIGINT_DRAIN_MS, config.drainTimeoutMs) : config.drainTimeoutMs;
  log.info({ signal, timeoutMs }, 'stopping');
  await sfu.drain(timeoutMs);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`sfud: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
