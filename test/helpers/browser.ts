import { chromium, type Browser, type BrowserContext } from 'playwright-core';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Debian's chromium, headless, without its background network traffic. Playwright gives every
 * launch a fresh temporary profile (it refuses --user-data-dir here).
 */
export async function launchChromium(): Promise<{ browser: Browser; close(): Promise<void> }> {
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
      // Nothing but loopback resolves: a page that reaches for the internet cannot succeed by luck.
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
    },
  };
}

/**
 * Records every request a context's pages make (redirects and subresources included) and lets
 * through only those to the test server; any other is aborted and listed in `external`.
 */
export async function localOnly(
  context: BrowserContext,
  serverUrl: string,
): Promise<{ external: string[]; local: string[] }> {
  const { host } = new URL(serverUrl);
  const seen = { external: [] as string[], local: [] as string[] };
  context.on('request', (request) => {
    const url = request.url();
    if (url.startsWith('data:') || url.startsWith('blob:')) return;
    if (new URL(url).host === host) seen.local.push(url);
    else seen.external.push(url);
  });
  await context.route('**/*', async (route) => {
    if (new URL(route.request().url()).host === host) await route.continue();
    else await route.abort('blockedbyclient');
  });
  return seen;
}
