/**
 * `--help` and the README "Configuration" section, both generated from the
 * option list (options.ts) and the ion-sfu key list (ion-keys.ts).
 * `npm run docs` rewrites the README section; a unit test fails when it is stale.
 */
import { CLI_ONLY, OPTIONS } from './options.js';
import { ION_KEYS } from './ion-keys.js';
import { showKey } from './file.js';

export const README_BEGIN = '<!-- config:begin (generated from src/config by `npm run docs`; edit there) -->';
export const README_END = '<!-- config:end -->';

const ION_FLAG_DOCS = [
  ['-c FILE', '`--config FILE`'],
  ['-a ADDR', '`--listen ADDR`; `:7000` means every interface (0.0.0.0), as in Go'],
  ['-cert FILE, -key FILE', '`--tls-cert FILE`, `--tls-key FILE`'],
  ['-m ADDR', '`--metrics-listen ADDR`; `:8100` means every interface'],
  ['-v N', '`--log-level`: 0 `info`, 1 `debug`, 2 `trace` (`-v` alone prints the version)'],
] as const;

const plain = (s: string): string => s.replace(/`/g, '');

function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(indent + line);
  return lines.join('\n');
}

export function renderHelp(): string {
  const out = [
    'Usage: sfud [options]',
    '',
    "A WebRTC SFU speaking ion-sfu's JSON-RPC protocol.",
    '',
    'Every setting is a flag, an environment variable and a sfu.toml key; a flag',
    'wins over the environment, which wins over the file, which wins over the default.',
    '',
    'Options:',
  ];
  for (const c of CLI_ONLY) {
    out.push(`  ${c.flag}`, wrap(`${plain(c.description)}${c.env ? `; env ${c.env}` : ''}`, 80, '      '));
  }
  for (const o of OPTIONS) {
    out.push(`  ${o.flag} ${o.arg}`);
    out.push(wrap(plain(o.description), 80, '      '));
    out.push(wrap(`default: ${o.default}; env ${o.env}; sfu.toml ${showKey(o.toml)}`, 80, '      '));
  }
  out.push('', 'ion-sfu flags, so `sfud -c /configs/sfu.toml -a :7000` runs as ion-sfu did:');
  for (const [flag, what] of ION_FLAG_DOCS) out.push(`  ${flag.padEnd(24)}${plain(what)}`);
  out.push('', 'ion-sfu sfu.toml keys are read too; see the README "Configuration" section.', '');
  return out.join('\n');
}

export function renderReadmeSection(): string {
  const out = [
    README_BEGIN,
    '',
    'Every setting is a flag, an environment variable and a key in an ion-sfu style',
    '`sfu.toml` (`sfud -c sfu.toml`): a flag wins over the environment, which wins over',
    'the file, which wins over the default. In the file, sfud\'s own keys live in an',
    '`[sfud]` table with the flag\'s name (`udp-port = 5000`, `allowed-origins =',
    '["https://app.example.com"]`), values in their TOML type. An unknown key is a',
    'warning naming the key and the file; a value of the wrong type stops sfud',
    '(exit code 2) with a message naming the key, the value and the type expected.',
    '',
    '| flag | env | sfu.toml | default | what |',
    '|---|---|---|---|---|',
  ];
  for (const c of CLI_ONLY) out.push(`| \`${c.flag}\` | ${c.env ? `\`${c.env}\`` : ''} | | | ${c.description} |`);
  for (const o of OPTIONS) {
    out.push(`| \`${o.flag} ${o.arg}\` | \`${o.env}\` | \`${showKey(o.toml)}\` | ${o.default} | ${o.description} |`);
  }
  out.push('', "ion-sfu's command line works too (`sfud -c /configs/sfu.toml -a :7000`, as in its docker-compose):", '');
  out.push('| ion-sfu flag | sfud |', '|---|---|');
  for (const [flag, what] of ION_FLAG_DOCS) out.push(`| \`${flag}\` | ${what} |`);
  out.push('', "ion-sfu's `sfu.toml` keys, and what sfud does with each:", '');
  out.push('| key | in sfud |', '|---|---|');
  for (const k of ION_KEYS) out.push(`| \`${k.display ?? (k.table ? `[${k.key}]` : showKey(k.key))}\` | ${k.meaning} |`);
  for (const o of OPTIONS.filter((x) => !x.toml.startsWith('sfud.'))) out.push(`| \`${showKey(o.toml)}\` | \`${o.flag}\` |`);
  out.push('', README_END);
  return out.join('\n');
}

/** The README with its generated section replaced; throws when the markers are missing. */
export function replaceReadmeSection(readme: string): string {
  const begin = readme.indexOf(README_BEGIN);
  const end = readme.indexOf(README_END);
  if (begin < 0 || end < begin) throw new Error(`README has no ${README_BEGIN} ... ${README_END} markers`);
  return readme.slice(0, begin) + renderReadmeSection() + readme.slice(end + README_END.length);
}
