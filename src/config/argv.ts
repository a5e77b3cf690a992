/**
 * ion-sfu's command line (`-c FILE -a :7000 -cert F -key F -m :8100 -v N`,
 * Go's flag package: one or two dashes, `-flag value` or `-flag=value`)
 * rewritten into sfud's flags before node:util parseArgs sees it, so an
 * ion-sfu docker-compose line runs unchanged. Go's `:7000` means every
 * interface, so `-a`/`-m` turn a bare `:PORT` into `0.0.0.0:PORT` (sfud's own
 * `--listen :PORT` keeps meaning 127.0.0.1).
 */

/** sfud flags that take a value: their next token is a value, never a flag to rewrite. */
export type ValueFlags = ReadonlySet<string>;

const ION_FLAGS: Record<string, { to: string; allInterfaces?: boolean }> = {
  c: { to: '--config' },
  a: { to: '--listen', allInterfaces: true },
  cert: { to: '--tls-cert' },
  key: { to: '--tls-key' },
  m: { to: '--metrics-listen', allInterfaces: true },
};

/** ion-sfu's `-v` verbosity: 0 info, 1 debug, 2 and up trace; -1 (its default) info. */
function verbosity(n: number): string {
  return n <= 0 ? 'info' : n === 1 ? 'debug' : 'trace';
}

export function rewriteIonArgv(argv: readonly string[], valueFlags: ValueFlags): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i]!;
    if (tok === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (valueFlags.has(tok)) {
      // `--jwt-secret -a...`: the value is taken as it is (joined with `=`, so parseArgs takes a leading dash too).
      out.push(i + 1 < argv.length ? `${tok}=${argv[++i]!}` : tok);
      continue;
    }
    const m = /^--?([a-z]+)(?:=(.*))?$/s.exec(tok);
    const name = m?.[1];
    const ion = name !== undefined && Object.hasOwn(ION_FLAGS, name) ? ION_FLAGS[name] : undefined;
    if (m && ion) {
      let value = m[2];
      if (value === undefined && i + 1 < argv.length) value = argv[++i]!;
      if (value === undefined) {
        out.push(ion.to);
        continue;
      }
      if (ion.allInterfaces && value.startsWith(':')) value = `0.0.0.0${value}`;
      out.push(`${ion.to}=${value}`);
      continue;
    }
    if (m && name === 'v') {
      const value = m[2] ?? (/^-?\d+$/.test(argv[i + 1] ?? '') ? argv[++i] : undefined);
      if (value === undefined) out.push('--version');
      else if (/^-?\d+$/.test(value)) out.push(`--log-level=${verbosity(Number(value))}`);
      else out.push(tok);
      continue;
    }
    out.push(tok);
  }
  return out;
}
