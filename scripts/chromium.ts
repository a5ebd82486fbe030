// Headless Chromium as the dashboard's browser test and its README picture drive it: Debian's build, a fresh profile.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/**
 * Debian's package (apt-get install -y chromium); playwright-core never downloads a browser of its own.
 * CHROMIUM_PATH names another Chromium-based browser, such as the Chrome of CircleCI's -browsers images.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** A browser with a new empty profile, removed on close; the flags keep Chromium off the network it would otherwise call home on. */
export async function launchChromium(options: { width?: number; height?: number; timezoneId?: string } = {}): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const profile = mkdtempSync(path.join(tmpdir(), 'leadscore-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: options.width ?? 1280, height: options.height ?? 900 },
    locale: 'en-US',
    timezoneId: options.timezoneId ?? 'UTC',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
