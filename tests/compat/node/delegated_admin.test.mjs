// Delegated administration in a real browser (Debian's Chromium, headless, driven by
// playwright-core). The tenant's `delegated_admin` setting limits delegated administrators
// to their own department (`app_metadata.department`). Users with Unicode names and random
// ids are made in Sales and Engineering, and a `Delegated Admin - User` of Sales signs in
// through the hosted login: the list and a search show Sales only; they open a Sales user,
// edit its metadata and block it; opening an Engineering user's URL directly, and posting a
// block for them from a tampered form, are refused with a 403 page; the Management API's
// logs then hold a `fapi` event naming the delegate for each refusal, and the Engineering
// user is unchanged.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { chromium } from 'playwright-core';
import { PASSWORD, useGatehouse } from './gatehouse.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const rand = () => randomBytes(6).toString('hex');

let browser;
const people = {};
const handle = useGatehouse(async (server) => {
  await management(server, 'PATCH', '/api/v2/tenants/settings', {
    delegated_admin: {
      filter: 'app_metadata.department:{{admin.app_metadata.department}}',
      create_fields: ['email', 'password', 'connection'],
      create_defaults: { app_metadata: { department: '{{admin.app_metadata.department}}' } },
    },
  });
  const make = async (key, name, department, extra = {}) => {
    const id = rand();
    const email = `${key}-${id}@${department.toLowerCase()}.example`;
    const user = await server.createUser(email, PASSWORD, {
      user_id: id,
      name,
      email_verified: true,
      app_metadata: { department, ...extra },
    });
    people[key] = { id: user.user_id, email, name };
  };
  await make('asa', 'Åsa Öberg', 'Sales');
  await make('jose', 'José Núñez', 'Sales');
  await make('zoe', 'Zoë Ünal', 'Engineering');
  await make('lei', '李雷', 'Engineering');
  await make('boss', 'Ingrid Ødegård', 'Sales', { roles: ['Delegated Admin - User'] });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
});

after(async () => {
  await browser?.close();
});

/** A Management API call with the bootstrap application's token; returns the JSON. */
async function management(server, method, path, body) {
  const res = await fetch(server.baseUrl + path, {
    method,
    headers: {
      authorization: `Bearer ${await server.managementToken()}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `${method} ${path}: ${text}`);
  return JSON.parse(text);
}

async function clickAndLoad(page, locator) {
  await Promise.all([page.waitForLoadState('load'), page.waitForNavigation(), locator.click()]);
}

/** The e-mail addresses in the users table. */
async function listed(page) {
  return (await page.locator('table tbody tr td:first-child a').allTextContents()).map((t) => t.trim());
}

test('a delegated administrator of Sales sees and changes Sales only', { timeout: 180_000 }, async () => {
  const server = handle.server;
  const base = server.baseUrl;
  const { asa, jose, zoe, lei, boss } = people;
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();

  // Sign in through the hosted login page.
  await page.goto(`${base}/admin`);
  assert.equal(new URL(page.url()).pathname, '/u/login');
  await page.locator('#username').fill(boss.email);
  await page.locator('#password').fill(PASSWORD);
  await clickAndLoad(page, page.getByRole('button', { name: 'Continue' }));
  assert.equal(new URL(page.url()).pathname, '/admin/users', page.url());
  assert.equal((await page.locator('#admin-role').textContent()).trim(), 'Delegated Admin - User');
  // The users area only: no other sections in the navigation.
  const sections = (await page.locator('header.top nav a').allTextContents()).map((t) => t.trim());
  assert.deepEqual(sections, ['Users']);

  // The list: Sales only (the delegate is in Sales too).
  assert.deepEqual((await listed(page)).sort(), [asa.email, jose.email, boss.email].sort());

  // A search is limited the same way: Unicode names, and an Engineering address finds nobody.
  await page.locator('#q').fill('name:*berg OR name:josé*');
  await clickAndLoad(page, page.getByRole('button', { name: 'Search' }));
  assert.deepEqual((await listed(page)).sort(), [asa.email, jose.email].sort());
  await page.locator('#q').fill(`email:"${zoe.email}" OR name:李雷`);
  await clickAndLoad(page, page.getByRole('button', { name: 'Search' }));
  assert.equal((await page.locator('#total').textContent()).trim(), 'No users match.');

  // Open a Sales user and edit their metadata.
  await page.locator('#q').fill(`email:"${asa.email}"`);
  await clickAndLoad(page, page.getByRole('button', { name: 'Search' }));
  await clickAndLoad(page, page.getByRole('link', { name: asa.email }));
  assert.equal((await page.locator('#user-id').textContent()).trim(), asa.id);
  // app_metadata is shown, not editable: it holds the roles and the department.
  assert.equal(await page.locator('#app_metadata').count(), 0);
  assert.match(await page.locator('#app_metadata_view').textContent(), /"department": "Sales"/);
  await page.locator('#user_metadata').fill('{"desk": "Plan 3 – Süd"}');
  await clickAndLoad(page, page.getByRole('button', { name: 'Save metadata' }));
  assert.equal((await page.locator('#notice').textContent()).trim(), 'Metadata saved.');
  assert.deepEqual((await server.user(asa.id)).user_metadata, { desk: 'Plan 3 – Süd' });

  // Block them.
  await clickAndLoad(page, page.getByRole('button', { name: 'Block' }));
  await page.locator('#blocked-badge').waitFor();
  assert.equal((await server.user(asa.id)).blocked, true);

  // An Engineering user's page, by guessing its URL: refused, and said so.
  const guessed = await page.goto(`${base}/admin/users/${encodeURIComponent(zoe.id)}`);
  assert.equal(guessed.status(), 403);
  assert.match(await page.locator('#error').textContent(), /Not allowed: this user is not among the users you administer/);
  assert.equal(await page.getByText(zoe.email).count(), 0);

  // A block posted for an Engineering user, from a Sales user's form pointed at them.
  await page.goto(`${base}/admin/users/${encodeURIComponent(jose.id)}`);
  const target = `/admin/users/${encodeURIComponent(lei.id)}/block`;
  await page.locator('form[action$="/block"]').evaluate((form, action) => { form.action = action; }, target);
  const [posted] = await Promise.all([
    page.waitForNavigation(),
    page.getByRole('button', { name: 'Block' }).click(),
  ]);
  assert.equal(posted.status(), 403);
  assert.match(await page.locator('#error').textContent(), /Not allowed/);
  assert.equal((await server.user(lei.id)).blocked, undefined);
  assert.equal((await server.user(jose.id)).blocked, undefined);

  // Another section of the dashboard, by its URL: refused too.
  const jobs = await page.goto(`${base}/admin/jobs`);
  assert.equal(jobs.status(), 403);

  // Each refusal is a `fapi` event naming the delegate, the request and the reason.
  const events = await management(server, 'GET', `/api/v2/logs?q=${encodeURIComponent('type:fapi')}&per_page=100`);
  const refusal = (method, path) => events.find((e) => e.description?.startsWith(`Dashboard: ${method} ${path} refused.`));
  for (const [method, path] of [
    ['GET', `/admin/users/${encodeURIComponent(zoe.id)}`],
    ['POST', target],
    ['GET', '/admin/jobs'],
  ]) {
    const e = refusal(method, path);
    assert.ok(e, `${method} ${path} in ${JSON.stringify(events, null, 1)}`);
    assert.equal(e.user_id, boss.id);
    assert.equal(e.user_name, boss.email);
    assert.equal(e.details.response.statusCode, 403);
    assert.equal(e.details.delegated_admin, 'Delegated Admin - User');
  }
  // The allowed changes are `sapi` events of the same delegate.
  const done = await management(server, 'GET', `/api/v2/logs?q=${encodeURIComponent(`type:sapi AND user_id:"${boss.id}"`)}&per_page=100`);
  assert.ok(done.some((e) => e.description === `Dashboard: POST /admin/users/${encodeURIComponent(asa.id)}/block`), JSON.stringify(done));
  await context.close();
});
