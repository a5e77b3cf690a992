// Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven
// by playwright-core in a fresh persistent profile (playwright wants the
// user-data-dir as an argument, not a flag), fake camera and microphone,
// loopback ICE allowed. `requireChromium()` fails the test file early when
// the binary is missing; `close()` closes the browser and removes the profile.
import t from 'tap';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection',
];

export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) {
    // .ci/run installs it (.ci/apt-packages); a developer machine may not have it.
    t.fail(`${CHROMIUM} is not installed: apt-get install -y chromium`);
    process.exit(1);
  }
}

export interface Chromium {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Launches Chromium in a new empty profile under a temp dir named `<prefix>XXXXXX`. */
export async function launchChromium(prefix: string): Promise<Chromium> {
  const userDataDir = mkdtempSync(join(tmpdir(), prefix));
  const removeProfile = (): void => rmSync(userDataDir, { recursive: true, force: true });
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, args: [...CHROMIUM_ARGS] });
  } catch (e) {
    removeProfile();
    throw e;
  }
  return {
    context,
    close: async () => {
      try {
        await context.close();
      } finally {
        removeProfile();
      }
    },
  };
}
