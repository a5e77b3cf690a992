// The README "Configuration" section and --help come from the option list;
// this fails when README.md is stale (fix: `npm run docs`).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { HELP, OPTIONS } from '../../src/config.js';
import { ION_KEYS } from '../../src/config/ion-keys.js';
import { README_BEGIN, README_END, renderReadmeSection, replaceReadmeSection } from '../../src/config/docs.js';
import { fromRoot } from '../helpers/paths.js';

const readme = readFileSync(fromRoot('README.md'), 'utf8');

t.test('README.md configuration section is up to date (npm run docs)', async (t) => {
  t.ok(readme.includes(README_BEGIN) && readme.includes(README_END), 'markers present');
  t.equal(replaceReadmeSection(readme), readme, 'regenerating changes nothing');
});

t.test('the section and --help name every option and ion-sfu key', async (t) => {
  const section = renderReadmeSection();
  for (const o of OPTIONS) {
    t.ok(section.includes(`\`${o.flag} ${o.arg}\``) && section.includes(`\`${o.env}\``), `${o.flag} in README`);
    t.ok(HELP.includes(`${o.flag} ${o.arg}`) && HELP.includes(o.env), `${o.flag} in --help`);
  }
  for (const k of ION_KEYS) t.ok(section.includes(k.meaning), `${k.key} in README`);
  t.match(HELP, /-a ADDR/);
});

t.test('a stale section is detected and replaced', async (t) => {
  const stale = `intro\n${README_BEGIN}\nold\n${README_END}\noutro\n`;
  const fresh = replaceReadmeSection(stale);
  t.not(fresh, stale);
  t.ok(fresh.startsWith('intro\n') && fresh.endsWith('\noutro\n'));
  t.throws(() => replaceReadmeSection('no markers'), /markers/);
});
