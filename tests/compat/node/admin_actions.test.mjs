// The actions editor in a real browser (Debian's Chromium, headless, driven by playwright-core):
// the administrator creates a post-login action, types its code (the gutter follows the
// lines), runs Test on the unsaved code and reads the ID token it would shape, saves and
// deploys it, binds it on the trigger's page, and a real password-realm login then carries the
// claim. The editor's screenshot goes to docs/screenshots/admin-action.png.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { chromium } from 'playwright-core';
import { PASSWORD, REPO_ROOT, useGatehouse } from './gatehouse.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = join(REPO_ROOT, 'docs', 'screenshots');
const ADMIN = 'admin@example.com';
const USER = 'märta.lind@example.com';
const REALM = 'Username-Password-Authentication';
const CLAIM = 'https://gatehouse.example/greeting';

const CODE = [
  '/** Greets the user in their ID token. */',
  'exports.onExecutePostLogin = async (event, api) => {',
  `  api.idToken.setCustomClaim('${CLAIM}', 'Hej ' + (event.user.name || event.user.email));`,
  "  console.log('greeted ' + event.user.email);",
  '};',
].join('\n');

let browser;
let app;
const handle = useGatehouse(async (server) => {
  app = await server.createClient({
    name: 'Password app',
    app_type: 'regular_web',
    grant_types: ['http://auth0.com/oauth/grant-type/password-realm'],
  });
  await server.createUser(USER);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
}, { env: { GATEHOUSE_BOOTSTRAP_ADMIN_EMAIL: ADMIN, GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD: PASSWORD } });

after(async () => {
  await browser?.close();
});

async function clickAndLoad(page, locator) {
  await Promise.all([page.waitForLoadState('load'), page.waitForNavigation(), locator.click()]);
}

/** The ID token claims of a password-realm login as `username`. */
async function idTokenClaims(base, username) {
  const res = await fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      grant_type: 'http://auth0.com/oauth/grant-type/password-realm',
      realm: REALM,
      username,
      password: PASSWORD,
      client_id: app.client_id,
      client_secret: app.client_secret,
      scope: 'openid email',
    }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return JSON.parse(Buffer.from(body.id_token.split('.')[1], 'base64url').toString('utf8'));
}

test('an action is written, tested, deployed and bound in the dashboard', { timeout: 120_000 }, async () => {
  const base = handle.server.baseUrl;
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${base}/admin`);
  await page.locator('#username').fill(ADMIN);
  await page.locator('#password').fill(PASSWORD);
  await clickAndLoad(page, page.getByRole('button', { name: 'Continue' }));

  await clickAndLoad(page, page.getByRole('link', { name: 'Actions', exact: true }));
  await page.locator('#action-name').fill('Greeting');
  await page.locator('#action-trigger').selectOption('post-login');
  await clickAndLoad(page, page.getByRole('button', { name: 'Create' }));
  assert.match(await page.locator('#notice').textContent(), /Action created/);

  // The gutter numbers the lines as they are typed.
  await page.locator('#code').fill(CODE);
  assert.equal(await page.locator('#gutter-code').textContent(), '1\n2\n3\n4\n5');

  // Test runs the unsaved code on the example event.
  await clickAndLoad(page, page.getByRole('button', { name: 'Test', exact: true }));
  const idToken = JSON.parse(await page.locator('#trial-id-token').textContent());
  assert.equal(idToken[CLAIM], 'Hej Zoë Ångström');
  assert.equal(await page.locator('#trial-console').textContent(), 'greeted zoe.angstrom@example.com');
  assert.equal(await page.locator('#code').inputValue(), CODE);
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, 'admin-action.png'), fullPage: true });
  // Not deployed yet: logins do not run it.
  assert.equal((await idTokenClaims(base, USER))[CLAIM], undefined);

  await clickAndLoad(page, page.getByRole('button', { name: 'Save and deploy' }));
  assert.match(await page.locator('#notice').textContent(), /Deployed/);
  await clickAndLoad(page, page.getByRole('link', { name: 'post-login' }));
  assert.match(await page.locator('#bindings').textContent(), /No action is bound/);
  await page.locator('#add-action').selectOption({ label: 'Greeting' });
  await clickAndLoad(page, page.getByRole('button', { name: 'Add' }));
  assert.match(await page.locator('#bindings').textContent(), /Greeting/);

  assert.equal((await idTokenClaims(base, USER))[CLAIM], `Hej ${USER}`);
  await context.close();
});
