/**
 * Headless Chromium for browser tests, through playwright-core and the system's Chromium (no downloaded browsers).
 * The page never reaches the network: every request outside the app's own origin is recorded and aborted, so a test
 * can assert that nothing was loaded from anywhere else.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Locator } from 'playwright-core';

/** The system Chromium; CHROMIUM_PATH overrides it (e.g. to check the missing-browser failure). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Fails (never skips) when Chromium is missing: CI installs it, so its absence is a broken environment. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}. Browser tests need it (Debian/Ubuntu: apt-get install chromium); CI installs it, so this test fails rather than skips.`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** True for the app's own origin and for in-page data:/blob: URLs. */
export function isLocal(url: string, origin: string): boolean {
  return url.startsWith(`${origin}/`) || url.startsWith('data:') || url.startsWith('blob:');
}

/**
 * Records every URL the context requests and aborts anything outside `origin` (so the test never touches the network).
 * Returns the live list of requested URLs.
 */
export async function confineToOrigin(context: BrowserContext, origin: string): Promise<string[]> {
  const requested: string[] = [];
  context.on('request', (request) => requested.push(request.url()));
  await context.route((url) => !isLocal(url.href, origin), (route) => route.abort('blockedbyclient'));
  return requested;
}

/**
 * The editable control of a Scalar data-table field by its visible label. Scalar renders `<label for=ID>` where ID
 * names a wrapper (a `div` around a contenteditable for plain fields, the `input` itself for secrets), so the
 * browser's label association (and therefore getByLabel) does not reach the control.
 */
export async function scalarField(scope: Locator, label: string): Promise<Locator> {
  const labelEl = scope.locator('label').filter({ hasText: new RegExp(`^\\s*${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`) });
  const id = await labelEl.getAttribute('for');
  if (!id) throw new Error(`no label "${label}" with a for= attribute`);
  const target = scope.locator(`[id="${id}"]`);
  return target.locator('input, [contenteditable="true"]').or(scope.locator(`input[id="${id}"]`));
}
