// Paths the tests read, from the repository root: tests run compiled from
// build/test/ (npm test) and the files they read stay where they are in the
// tree, so nothing is resolved relative to the running module.
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
  throw new Error('test/helpers/paths: no sfud package.json above this module');
}

/** The repository root. */
export const ROOT = findRoot();
/** test/fixtures/, with a trailing separator. */
export const FIXTURES = join(ROOT, 'test', 'fixtures') + '/';
/** A path under the repository root. */
export const fromRoot = (...parts: string[]): string => join(ROOT, ...parts);
