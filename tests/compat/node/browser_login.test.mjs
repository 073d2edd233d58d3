// Proves that a person in a real browser (Debian's Chromium, headless, driven by
// playwright-core) can sign in to a relying party built on openid-client through
// Gatehouse's hosted login page: the RP redirects with PKCE (S256), state and
// nonce; a wrong password shows the error; the right one lands back on the RP,
// whose library verifies the ID token and shows its email; a second visit is
// signed in by SSO without seeing the login page. It also saves a screenshot of
// the login page to docs/screenshots/login.png.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { chromium } from 'playwright-core';
import { PASSWORD, REPO_ROOT, useGatehouse } from './gatehouse.mjs';
import { RelyingParty } from './relying_party.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SCREENSHOT = join(REPO_ROOT, 'docs', 'screenshots', 'login.png');
const EMAIL = 'browser-user@example.com';

// -- setup: Gatehouse, the RP's application and user, the browser -----------------

const rp = await new RelyingParty().start();
let browser;

useGatehouse(async (server) => {
  const application = await server.createClient({
    name: 'Node RP',
    app_type: 'regular_web',
    callbacks: [rp.redirectUri],
  });
  await server.createUser(EMAIL);
  await rp.connect(server, application);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
});

after(async () => {
  await browser?.close();
  await rp.close();
});

/** Fill the hosted login form and press Continue; resolves with the POST's response. */
async function submitLogin(page, username, password) {
  await page.locator('#username').fill(username);
  await page.locator('#password').fill(password);
  const posted = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/u/login');
  await page.getByRole('button', { name: 'Continue' }).click();
  return posted;
}

// -- the journey -------------------------------------------------------------------

test('log in through the hosted page in Chromium, then SSO', { timeout: 120_000 }, async () => {
  const context = await browser.newContext({ viewport: { width: 480, height: 520 } });
  const page = await context.newPage();

  // The RP sends the browser to Gatehouse, which shows its login page.
  await page.goto(`${rp.baseUrl}/login`);
  assert.equal(new URL(page.url()).pathname, '/u/login');
  assert.equal(await page.title(), 'Log in');
  mkdirSync(join(REPO_ROOT, 'docs', 'screenshots'), { recursive: true });
  await page.screenshot({ path: SCREENSHOT });

  // A wrong password: the form comes back with the error.
  const rejected = await submitLogin(page, EMAIL, 'not-the-password');
  assert.equal(rejected.status(), 400);
  assert.equal((await page.locator('#error').textContent()).trim(), 'Wrong email or password.');

  // The right password: back on the RP, whose library verified the ID token.
  await submitLogin(page, EMAIL, PASSWORD);
  await page.waitForURL(`${rp.redirectUri}?**`);
  assert.equal(await page.locator('#email').textContent(), EMAIL, await page.content());

  // Second visit: the Gatehouse session signs the user in without the login page.
  const paths = [];
  page.on('request', (r) => paths.push(new URL(r.url()).pathname));
  await page.goto(`${rp.baseUrl}/login`);
  assert.ok(page.url().startsWith(`${rp.redirectUri}?`), page.url());
  assert.ok(paths.includes('/authorize') && !paths.includes('/u/login'), paths.join(' '));
  assert.equal(await page.locator('#email').textContent(), EMAIL, await page.content());

  await context.close();
});
