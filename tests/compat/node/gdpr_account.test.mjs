// Proves that the GDPR account page works for a person in a real browser (Debian's
// Chromium, headless, driven by playwright-core), with no JavaScript of ours:
//
// * /u/account without a session goes through the hosted login (the server's own
//   `gatehouse-account` application) and comes back to the page;
// * the initials picture (`default_picture: "initials"`, an SVG served by Gatehouse)
//   is drawn on the page, allowed by the hosted pages' content security policy;
// * "Download my data" downloads a JSON file holding the profile and the login
//   just made.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { chromium } from 'playwright-core';
import { PASSWORD, useGatehouse } from './gatehouse.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const EMAIL = 'saoirse.ni.bhriain@example.ie';
const LIMIT = { timeout: 120_000 };

let browser;
let userId;

const gh = useGatehouse(async (server) => {
  const token = await server.managementToken();
  const res = await fetch(`${server.baseUrl}/api/v2/tenants/settings`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ default_picture: 'initials' }),
  });
  assert.equal(res.status, 200, await res.text());
  const user = await server.createUser(EMAIL, PASSWORD, { given_name: 'Saoirse', family_name: 'Ní Bhriain' });
  userId = user.user_id;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
});

after(async () => {
  await browser?.close();
});

test('sign in to the account page, see the picture and download the data', LIMIT, async () => {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 800, height: 900 } });
  const page = await context.newPage();
  // Anything the page failed to load or the policy refused (the browser's own favicon aside).
  const blocked = [];
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 404/.test(m.text())) blocked.push(m.text()); });
  page.on('response', (r) => {
    if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) blocked.push(`${r.status()} ${r.url()}`);
  });

  await page.goto(`${gh.server.baseUrl}/u/account`);
  assert.equal(new URL(page.url()).pathname, '/u/login');
  await page.locator('#username').fill(EMAIL);
  await page.locator('#password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL(`${gh.server.baseUrl}/u/account`);
  assert.equal(await page.title(), 'Your account');
  assert.match(await page.locator('#profile').textContent(), /saoirse\.ni\.bhriain@example\.ie/);

  // The picture is Gatehouse's own SVG, and the browser drew it.
  const src = await page.locator('#picture').getAttribute('src');
  assert.equal(src, `${gh.server.baseUrl}/u/avatars/SN.svg`);
  const drawn = await page.locator('#picture').evaluate((img) => img.complete && img.naturalWidth > 0);
  assert.ok(drawn, 'the initials picture is drawn');

  // The download is a JSON file with the profile and the login just made.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.locator('#download').click(),
  ]);
  assert.equal(download.suggestedFilename(), 'my-data.json');
  const data = JSON.parse(readFileSync(await download.path(), 'utf8'));
  assert.equal(data.user_id, userId);
  assert.equal(data.family_name, 'Ní Bhriain');
  assert.ok(data.logs.some((e) => e.type === 's' && e.client_id === 'gatehouse-account'), JSON.stringify(data.logs));
  assert.deepEqual(blocked, [], 'nothing on the page was refused');
  await context.close();
});
