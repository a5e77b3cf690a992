/**
 * Control-plane errors: typed, with a stable `code` string callers can switch
 * on (undici's practice). The data plane never throws; it counts drops.
 */
export class SfuError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SfuError';
    this.code = code;
  }
}

/** A configuration value or flag that cannot be used. */
export class ConfigError extends SfuError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_SFUD_CONFIG', message, options);
    this.name = 'ConfigError';
  }
}

/** An operation on an object that has been closed. */
export class ClosedError extends SfuError {
  constructor(what: string) {
    super('ERR_SFUD_CLOSED', `${what} is closed`);
    this.name = 'ClosedError';
  }
}
