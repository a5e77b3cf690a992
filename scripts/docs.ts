// `npm run docs`: rewrites the README "Configuration" section from the option
// list in src/config (test/unit/config-docs.test.ts fails while it is stale).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { replaceReadmeSection } from '../src/config/docs.js';

// Compiled to dist/scripts/docs.js: the README is two levels up.
const readme = fileURLToPath(new URL('../../README.md', import.meta.url));
const before = readFileSync(readme, 'utf8');
const after = replaceReadmeSection(before);
if (after === before) {
  process.stdout.write('README.md configuration section is up to date\n');
} else {
  writeFileSync(readme, after);
  process.stdout.write('README.md configuration section rewritten\n');
}
