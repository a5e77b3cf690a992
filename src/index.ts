/**
 * sfud's public API. Everything a library user imports comes from here; the
 * wire codecs are exported too so tools and tests can build and read packets.
 */
export { Sfu, type SfuOptions } from './sfu.js';
export { defaultConfig, parseCli, type SfuConfig } from './config.js';
export { SfuError, ConfigError, ClosedError } from './errors.js';
export { createLogger, silentLogger, type Logger } from './logger.js';
export { VERSION } from './version.js';
export * from './rtp/rtp.js';
export * from './rtp/extensions.js';
export * from './rtp/seq.js';
