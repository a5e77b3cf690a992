// Paths the tests read, from the repository root: tests run compiled from
// build/test/ (npm test) and the files they read stay where they are in the
// tree, so nothing is resolved relative to the running module.
import { join } from 'node:path';
import { ROOT } from '../../bench/support/root.js';

export { ROOT };
/** test/fixtures/, with a trailing separator. */
export const FIXTURES = join(ROOT, 'test', 'fixtures') + '/';
/** A path under the repository root. */
export const fromRoot = (...parts: string[]): string => join(ROOT, ...parts);
