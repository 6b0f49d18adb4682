// Starts Debian's chromium for the browser tests and `npm run bench:web` through playwright-core: headless, no
// sandbox, no GPU, nothing talking to the network, a fresh profile per run. Node only.

import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext } from 'playwright-core';

/** Where Debian puts chromium (`apt-get install chromium`); the CHROMIUM variable, when set, is the only place looked at. */
export function chromiumPath(): string | null {
  const candidates = process.env.CHROMIUM ? [process.env.CHROMIUM] : ['/usr/bin/chromium', '/usr/bin/chromium-browser'];
  return candidates.find((path) => existsSync(path)) ?? null;
}

export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Launches chromium with a fresh user-data dir, removed on close; `extraFlags` after CHROMIUM_FLAGS. */
export async function launchChromium(executablePath: string, extraFlags: string[] = []): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), 'mobilenet-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath, headless: true, args: [...CHROMIUM_FLAGS, ...extraFlags], viewport: { width: 1280, height: 900 } });
  return {
    context,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
