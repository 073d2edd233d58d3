// The admin dashboard in a real browser (Debian's Chromium, headless, driven by
// playwright-core): the administrator signs in through the hosted login, creates a user,
// finds them with a v3 query, edits metadata (a bad key is shown as an error before
// saving), blocks them, sees the failed login their next attempt leaves, unblocks them,
// changes their password and deletes them; then imports a file with one bad row, reads
// the row's error, exports a search and downloads it. Screenshots of the main pages go to
// docs/screenshots/admin-*.png (the README shows them).

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { PASSWORD, REPO_ROOT, useGatehouse } from './gatehouse.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = join(REPO_ROOT, 'docs', 'screenshots');
const ADMIN = 'admin@example.com';
const EMAIL = 'walk@example.com';
const REALM = 'Username-Password-Authentication';

let browser;
let app;
const handle = useGatehouse(async (server) => {
  app = await server.createClient({
    name: 'Password app',
    app_type: 'regular_web',
    grant_types: ['http://auth0.com/oauth/grant-type/password-realm'],
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
}, { env: { GATEHOUSE_BOOTSTRAP_ADMIN_EMAIL: ADMIN, GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD: PASSWORD } });

after(async () => {
  await browser?.close();
});

/** A password-realm login as `username`; resolves with the HTTP status. */
async function passwordLogin(base, username, password) {
  const res = await fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      grant_type: 'http://auth0.com/oauth/grant-type/password-realm',
      realm: REALM,
      username,
      password,
      client_id: app.client_id,
      client_secret: app.client_secret,
      scope: 'openid',
    }),
  });
  await res.arrayBuffer();
  return res.status;
}

async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, name), fullPage: true });
}

async function clickAndLoad(page, locator) {
  await Promise.all([page.waitForLoadState('load'), page.waitForNavigation(), locator.click()]);
}

test('the administrator walks a user through their life in the dashboard', { timeout: 180_000 }, async () => {
  const base = handle.server.baseUrl;
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();

  // Sign in through the hosted login page.
  await page.goto(`${base}/admin`);
  assert.equal(new URL(page.url()).pathname, '/u/login');
  await page.locator('#username').fill(ADMIN);
  await page.locator('#password').fill(PASSWORD);
  await clickAndLoad(page, page.getByRole('button', { name: 'Continue' }));
  assert.equal(new URL(page.url()).pathname, '/admin', page.url());
  assert.match(await page.locator('header.top').textContent(), /admin@example\.com/);
  // The home page: activity charts drawn in SVG, each with its title for assistive technology.
  assert.equal((await page.locator('h1').textContent()).trim(), 'Activity');
  assert.equal(await page.locator('svg#chart-logins title#chart-logins-title').textContent(), 'Logins per day, last 30 days');
  assert.equal(await page.locator('#activity-days tbody tr').count(), 30);
  await shot(page, 'admin-activity.png');
  await clickAndLoad(page, page.getByRole('link', { name: 'Users', exact: true }));

  // Create a user.
  await clickAndLoad(page, page.getByRole('link', { name: 'Create user' }));
  await page.locator('#email').fill(EMAIL);
  await page.locator('#password').fill(PASSWORD);
  await clickAndLoad(page, page.getByRole('button', { name: 'Create' }));
  assert.equal((await page.locator('#notice').textContent()).trim(), 'User created.');
  const userId = (await page.locator('#user-id').textContent()).trim();
  assert.match(userId, /^auth0\|/);

  // Find them with a v3 query (and see a bad query's error where it is).
  await page.getByRole('link', { name: 'Users', exact: true }).click();
  await page.waitForURL('**/admin/users');
  await page.locator('#q').fill('email:(walk');
  await clickAndLoad(page, page.getByRole('button', { name: 'Search' }));
  assert.match(await page.locator('#q-error').textContent(), /The query is not valid at character/);
  await page.locator('#q').fill(`email:"${EMAIL}" AND logins_count:[0 TO *]`);
  await clickAndLoad(page, page.getByRole('button', { name: 'Search' }));
  assert.equal((await page.locator('#total').textContent()).trim(), '1 user · showing 1–1');
  await shot(page, 'admin-users.png');
  await clickAndLoad(page, page.getByRole('link', { name: EMAIL }));

  // Metadata: a bad key is reported as it is typed and cannot be saved.
  const editor = page.locator('#user_metadata');
  await editor.fill('{"bad.key": 1}');
  const problem = page.locator('#metadata-error');
  await problem.waitFor({ state: 'visible' });
  assert.match(await problem.textContent(), /bad\.key.*cannot contain/);
  assert.equal(await page.getByRole('button', { name: 'Save metadata' }).isDisabled(), true);
  await editor.fill('{"plan": "pro", "seats": 3}');
  await problem.waitFor({ state: 'hidden' });
  await clickAndLoad(page, page.getByRole('button', { name: 'Save metadata' }));
  assert.equal((await page.locator('#notice').textContent()).trim(), 'Metadata saved.');
  assert.deepEqual(JSON.parse(await page.locator('#user_metadata').inputValue()), { plan: 'pro', seats: 3 });

  // Block; the user's next login fails and the page explains the failure.
  await clickAndLoad(page, page.getByRole('button', { name: 'Block' }));
  await page.locator('#blocked-badge').waitFor();
  assert.notEqual(await passwordLogin(base, EMAIL, PASSWORD), 200);
  await page.reload();
  const events = page.locator('#events');
  assert.match(await events.textContent(), /Login refused \(for example: the user is blocked\)/);
  await shot(page, 'admin-user.png');

  // Unblock: the login works again.
  await clickAndLoad(page, page.getByRole('button', { name: 'Unblock' }));
  assert.equal(await page.locator('#blocked-badge').count(), 0);
  assert.equal(await passwordLogin(base, EMAIL, PASSWORD), 200);

  // Change the password: only the new one works.
  await page.locator('#new-password').fill('N3w-passw0rd!x');
  await clickAndLoad(page, page.getByRole('button', { name: 'Change password' }));
  assert.equal((await page.locator('#notice').textContent()).trim(), 'Password changed.');
  assert.notEqual(await passwordLogin(base, EMAIL, PASSWORD), 200);
  assert.equal(await passwordLogin(base, EMAIL, 'N3w-passw0rd!x'), 200);

  // Delete, after confirming.
  await clickAndLoad(page, page.getByRole('link', { name: 'Delete user…' }));
  await clickAndLoad(page, page.getByRole('button', { name: 'Delete permanently' }));
  assert.equal(new URL(page.url()).pathname, '/admin/users');
  const left = await handle.server.usersByEmail(EMAIL);
  assert.deepEqual(left, []);

  // The logs page lists the events; the deleted user's are pseudonymised (GDPR erasure,
  // docs/gdpr.md): the event stays, their email does not.
  await page.goto(`${base}/admin/logs?type=f`);
  const logs = await page.locator('#logs').textContent();
  assert.match(logs, /user is blocked/);
  assert.match(logs, /erased\|/);
  assert.doesNotMatch(logs, /walk@example\.com/);
  await shot(page, 'admin-logs.png');
  await context.close();
});

test('import a file with one bad row, then export a search and download it', { timeout: 180_000 }, async () => {
  const base = handle.server.baseUrl;
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
  const page = await context.newPage();
  await page.goto(`${base}/admin`);
  if (new URL(page.url()).pathname === '/u/login') {
    await page.locator('#username').fill(ADMIN);
    await page.locator('#password').fill(PASSWORD);
    await clickAndLoad(page, page.getByRole('button', { name: 'Continue' }));
  }

  const file = join(handle.server.dir, 'users.json');
  writeFileSync(file, JSON.stringify([
    { email: 'one@import.example', email_verified: true },
    { email: 'not-an-email', email_verified: true },
    { email: 'two@import.example', user_metadata: { plan: 'basic' } },
  ]));
  await page.getByRole('link', { name: 'Import & export' }).click();
  await page.waitForURL('**/admin/jobs');
  await page.locator('#import-connection').selectOption({ label: REALM });
  await page.locator('#users-file').setInputFiles(file);
  await clickAndLoad(page, page.getByRole('button', { name: 'Import' }));
  assert.match(new URL(page.url()).pathname, /^\/admin\/jobs\/job_/);
  // The page follows the job and reloads when it ends.
  await page.locator('#job-status', { hasText: /^(completed|failed)$/ }).waitFor({ timeout: 60_000 });
  assert.equal((await page.locator('#job-status').textContent()).trim(), 'completed');
  assert.match(await page.locator('#job-summary').textContent(), /Inserted 2, updated 0, failed 1 of 3/);
  const errors = await page.locator('#job-errors tbody tr').allTextContents();
  assert.equal(errors.length, 1);
  assert.match(errors[0], /^2\s*not-an-email/); // the second row, counted from 1
  await shot(page, 'admin-import.png');

  // Export the imported users found by a search, as NDJSON, and download the file.
  await page.getByRole('link', { name: 'Import & export' }).first().click();
  await page.waitForURL('**/admin/jobs');
  await page.locator('#export-q').fill('email:*@import.example');
  await page.locator('#export-format').selectOption('json');
  await clickAndLoad(page, page.getByRole('button', { name: 'Export' }));
  await page.locator('#download').waitFor({ timeout: 60_000 });
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#download').click()]);
  const lines = gunzipSync(readFileSync(await download.path())).toString('utf8').trim().split('\n');
  const emails = lines.map((l) => JSON.parse(l).email).sort();
  assert.deepEqual(emails, ['one@import.example', 'two@import.example']);

  // At phone width the pages still read: the users list, narrow.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/admin/users`);
  await shot(page, 'admin-users-phone.png');
  await context.close();
});
