// The repository root, found by walking up from this module to sfud's
// package.json: bench code runs from bench/ (sources), dist/bench/ (npm run
// bench) and build/bench/ (the tests), so no fixed number of '..' is right.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'sfud') return dir;
    dir = dirname(dir);
  }
  throw new Error('bench/support/root: no sfud package.json above this module');
}

export const ROOT = findRoot();
