// Impersonation in a real browser (Debian's Chromium, headless, driven by
// playwright-core): an administrator holding the admin and impersonator roles
// signs in to the dashboard, opens a user's page, picks an application whose
// callback is a small relying party in this file and clicks "Log in as this
// user". The browser lands at the relying party as the user: openid-client
// exchanges the code and verifies the ID token (JWKS signature, iss, aud, exp),
// which carries `act` (the administrator), `impersonated` and `impersonator`;
// the access token carries `act` too. Then the Management API shows the login in
// both users' logs: `s` with `details.impersonator` on the user, `sapi` on the
// administrator. An administrator without the impersonator role sees no form.
//
// The relying party skips its `state` check: an impersonated login was not
// started by the application, so there is no state of its own to compare
// (docs/impersonation.md, "The state caveat").

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, test } from 'node:test';
import * as client from 'openid-client';
import { chromium } from 'playwright-core';
import { PASSWORD, useGatehouse } from './gatehouse.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ADMIN = 'admin@example.com';
const PLAIN_ADMIN = 'helpdesk@example.com';
const USER = 'ada@example.com';

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));

/** A relying party that accepts logins it did not start (impersonation): GET /callback
 *  exchanges the code (client_secret_post), has openid-client verify the ID token, and shows
 *  `#sub`, `#act`, `#impersonated`, `#impersonator`, `#access-act` and all claims. */
class ImpersonationTarget {
  #server = null;

  async start() {
    this.#server = createServer((req, res) => {
      this.#handle(new URL(req.url, this.baseUrl), res).catch((err) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`RP error: ${err.stack}`);
      });
    });
    await new Promise((ok) => this.#server.listen(0, '127.0.0.1', ok));
    this.baseUrl = `http://127.0.0.1:${this.#server.address().port}`;
    this.redirectUri = `${this.baseUrl}/callback`;
    return this;
  }

  async connect(gatehouse, application) {
    this.config = await client.discovery(new URL(gatehouse.issuer), application.client_id, undefined,
      client.ClientSecretPost(application.client_secret), { execute: [client.allowInsecureRequests] });
  }

  close() {
    return new Promise((ok) => this.#server.close(ok));
  }

  async #handle(url, res) {
    if (url.pathname !== '/callback') {
      res.writeHead(404).end();
      return;
    }
    const tokens = await client.authorizationCodeGrant(this.config, url, {
      expectedState: client.skipStateCheck,
      idTokenExpected: true,
    });
    const claims = tokens.claims(); // verified: signature (JWKS), iss, aud, exp
    const access = claimsOf(tokens.access_token);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(
      '<!doctype html><title>Signed in</title><h1>Signed in</h1>'
      + `<p id="sub">${escapeHtml(claims.sub)}</p>`
      + `<p id="act">${escapeHtml(claims.act?.sub ?? '')}</p>`
      + `<p id="impersonated">${escapeHtml(claims.impersonated)}</p>`
      + `<p id="impersonator">${escapeHtml(claims.impersonator?.email ?? '')}</p>`
      + `<p id="access-act">${escapeHtml(access.act?.sub ?? '')}</p>`
      + `<p id="refresh">${escapeHtml(tokens.refresh_token ? 'yes' : 'no')}</p>`
      + `<pre id="claims">${escapeHtml(JSON.stringify(claims))}</pre>`);
  }
}

const rp = await new ImpersonationTarget().start();
let browser;
let userId;
let adminId;

/** A Management API call with the bootstrap client's token; resolves with the JSON. */
async function management(server, method, path, body) {
  const res = await fetch(server.baseUrl + path, {
    method,
    headers: {
      authorization: `Bearer ${await server.managementToken()}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

const handle = useGatehouse(async (server) => {
  const application = await server.createClient({
    name: 'Support target',
    app_type: 'regular_web',
    callbacks: [rp.redirectUri],
    grant_types: ['authorization_code', 'refresh_token'],
  });
  await rp.connect(server, application);
  userId = (await server.createUser(USER, PASSWORD, { name: 'Ada' })).user_id;
  // The bootstrap administrator gets the dedicated permission; a second one does not.
  [{ user_id: adminId }] = await server.usersByEmail(ADMIN);
  await management(server, 'PATCH', `/api/v2/users/${encodeURIComponent(adminId)}`,
    { app_metadata: { roles: ['admin', 'impersonator'] } });
  await server.createUser(PLAIN_ADMIN, PASSWORD, { app_metadata: { roles: ['admin'] } });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
}, { env: { GATEHOUSE_BOOTSTRAP_ADMIN_EMAIL: ADMIN, GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD: PASSWORD } });

after(async () => {
  await browser?.close();
  await rp.close();
});

async function signIn(page, base, email) {
  await page.goto(`${base}/admin`);
  assert.equal(new URL(page.url()).pathname, '/u/login');
  await page.locator('#username').fill(email);
  await page.locator('#password').fill(PASSWORD);
  // Full administrators land on the activity page, delegated ones on the users list.
  await Promise.all([page.waitForURL(/\/admin(\/users)?$/), page.getByRole('button', { name: 'Continue' }).click()]);
}

test('an impersonation login lands in the application as the user with the act claim and is in both users\' logs',
  { timeout: 180_000 }, async () => {
    const base = handle.server.baseUrl;
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();
    await signIn(page, base, ADMIN);

    // The user's page offers "Log in as this user" for the application's callback.
    await page.goto(`${base}/admin/users/${encodeURIComponent(userId)}`);
    const target = page.locator('#impersonate-target');
    await target.selectOption({ label: `Support target — ${rp.redirectUri}` });
    await Promise.all([
      page.waitForURL((u) => u.href.startsWith(rp.redirectUri), { timeout: 30_000 }),
      page.getByRole('button', { name: 'Log in as this user' }).click(),
    ]);

    // Landed at the application, signed in as the user, with the administrator as actor.
    assert.equal(await page.title(), 'Signed in', await page.content());
    assert.equal(await page.locator('#sub').textContent(), userId);
    assert.equal(await page.locator('#act').textContent(), adminId);
    assert.equal(await page.locator('#impersonated').textContent(), 'true');
    assert.equal(await page.locator('#impersonator').textContent(), ADMIN);
    assert.equal(await page.locator('#access-act').textContent(), adminId);
    assert.equal(await page.locator('#refresh').textContent(), 'no');

    // Both users' logs.
    const server = handle.server;
    const userLogs = await management(server, 'GET', `/api/v2/users/${encodeURIComponent(userId)}/logs`);
    const login = userLogs.find((e) => e.type === 's');
    assert.ok(login, JSON.stringify(userLogs));
    assert.equal(login.details.impersonator.user_id, adminId);
    assert.equal(login.details.impersonator.email, ADMIN);
    const adminLogs = await management(server, 'GET', `/api/v2/users/${encodeURIComponent(adminId)}/logs`);
    const started = adminLogs.find((e) => e.type === 'sapi' && e.details.impersonation?.user_id === userId);
    assert.ok(started, JSON.stringify(adminLogs));

    // The user's page in the dashboard shows the login among their events.
    await page.goto(`${base}/admin/users/${encodeURIComponent(userId)}`);
    assert.match(await page.locator('#events').textContent(), /impersonated by an administrator/);
    await context.close();
  });

test('an administrator without the impersonator role is not offered the form', { timeout: 120_000 }, async () => {
  const base = handle.server.baseUrl;
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, base, PLAIN_ADMIN);
  await page.goto(`${base}/admin/users/${encodeURIComponent(userId)}`);
  assert.equal(await page.locator('#impersonate-target').count(), 0);
  assert.equal(await page.getByRole('button', { name: 'Log in as this user' }).count(), 0);
  await context.close();
});
