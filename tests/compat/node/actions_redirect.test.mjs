// Proves that an Auth0 Action's redirect works in a real browser (Debian's Chromium,
// headless, driven by playwright-core) when the external page is on another site.
// Gatehouse is reached at http://127.0.0.1:<port>; the external "profile" page, a small
// node:http server in this file, at http://localhost:<other port>, which browsers treat
// as a different site. A post-login action (secret SHARED) sends a user without a company
// to that page with an HS256 `session_token` (`api.redirect.encodeToken`), which the page
// verifies with node:crypto (signature and `state`). The person types a company with
// non-ASCII letters; the page signs it as `profile_token` and the browser POSTs it with
// `state` cross-site to Gatehouse's `/continue` — a request that carries no Gatehouse
// session cookie (SameSite=Lax), which the test checks on the wire. The action's
// `onContinuePostLogin` validates the token (`api.redirect.validateToken`), saves the
// company in user_metadata and puts it in the ID token, which the relying party
// (openid-client) verifies. A profile_token signed with another secret ends at the
// callback with `access_denied` and "invalid signature".

import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { after, test } from 'node:test';
import { chromium } from 'playwright-core';
import { PASSWORD, useGatehouse } from './gatehouse.mjs';
import { RelyingParty } from './relying_party.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHARED = 'shared-secret-for-the-profile-page-0123';
const CLAIM = 'https://gatehouse.example/company';
const COMPANY = 'Ünïcode GmbH';
const SESSION_COOKIE = 'gh_session'; // crates/http/src/hosted/cookies.rs
const ADA = 'ada-redirect@example.com';
const BO = 'bo-redirect@example.com';

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const b64url = (data) => Buffer.from(data).toString('base64url');

/** An HS256 JWT of `claims` signed with `secret`. */
function signHs256(secret, claims) {
  const input = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** The claims of an HS256 JWT signed with `secret`, or null. */
function verifyHs256(secret, token) {
  const [head, body, sig] = String(token).split('.');
  if (!head || !body || !sig) return null;
  if (JSON.parse(Buffer.from(head, 'base64url')).alg !== 'HS256') return null;
  const expected = createHmac('sha256', secret).update(`${head}.${body}`).digest();
  const given = Buffer.from(sig, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  return JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
}

// -- the external profile page (another site: localhost, not 127.0.0.1) -------------------

/**
 * GET /profile?state&session_token: checks the action's token and asks for the company.
 * POST /profile (state, company): signs {state, company, exp} as `profile_token` and
 * answers a page whose form posts it with `state` to Gatehouse's /continue on load.
 */
class ProfileSite {
  continueUrl = ''; // Gatehouse's /continue, set once the server runs
  answerSecret = SHARED; // what the profile_token is signed with (a test may forge)
  seen = []; // the verified session_token claims, one per visit
  #server = null;

  async start() {
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`profile site error: ${err.stack}`);
      });
    });
    await new Promise((ok) => this.#server.listen(0, '127.0.0.1', ok));
    this.baseUrl = `http://localhost:${this.#server.address().port}`;
    return this;
  }

  close() {
    return new Promise((ok) => this.#server.close(ok));
  }

  async #handle(req, res) {
    const url = new URL(req.url, this.baseUrl);
    const page = (status, title, body) => res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' })
      .end(`<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`);
    if (url.pathname !== '/profile') {
      res.writeHead(404).end();
    } else if (req.method === 'GET') {
      const state = url.searchParams.get('state') ?? '';
      const claims = verifyHs256(SHARED, url.searchParams.get('session_token'));
      if (!claims || !state || claims.state !== state || !(claims.exp > Date.now() / 1000)) {
        page(400, 'Refused', '<h1 id="refused">The session token is not valid</h1>');
        return;
      }
      this.seen.push(claims);
      page(200, 'Your company', '<h1>Tell us your company</h1>'
        + `<form method="post" action="${escapeHtml(`${this.baseUrl}/profile`)}">`
        + `<input type="hidden" name="state" value="${escapeHtml(state)}">`
        + '<label>Company <input type="text" id="company" name="company"></label>'
        + '<button type="submit">Save</button></form>');
    } else if (req.method === 'POST') {
      let raw = '';
      req.setEncoding('utf8');
      for await (const chunk of req) raw += chunk;
      const form = new URLSearchParams(raw);
      const state = form.get('state') ?? '';
      const token = signHs256(this.answerSecret, {
        state,
        company: form.get('company') ?? '',
        exp: Math.floor(Date.now() / 1000) + 60,
      });
      page(200, 'Back to the login', '<p>Taking you back…</p>'
        + `<form id="back" method="post" action="${escapeHtml(this.continueUrl)}">`
        + `<input type="hidden" name="state" value="${escapeHtml(state)}">`
        + `<input type="hidden" name="profile_token" value="${escapeHtml(token)}">`
        + '<noscript><button type="submit">Continue</button></noscript></form>'
        + '<script>document.getElementById("back").submit();</script>');
    } else {
      res.writeHead(405).end();
    }
  }
}

const actionCode = (externalUrl) => `exports.onExecutePostLogin = async (event, api) => {
  if (event.user.user_metadata.company) return;
  const token = api.redirect.encodeToken({ secret: event.secrets.SHARED, expiresInSeconds: 120, payload: { hello: 'from gatehouse' } });
  api.redirect.sendUserTo(${JSON.stringify(externalUrl)}, { query: { session_token: token } });
};
exports.onContinuePostLogin = async (event, api) => {
  const payload = api.redirect.validateToken({ secret: event.secrets.SHARED, tokenParameterName: 'profile_token' });
  api.user.setUserMetadata('company', payload.company);
  api.idToken.setCustomClaim(${JSON.stringify(CLAIM)}, payload.company);
};
`;

/** A Management API call with the bootstrap application's token; returns the JSON. */
async function management(server, method, path, body, expected) {
  const res = await fetch(server.baseUrl + path, {
    method,
    headers: {
      authorization: `Bearer ${await server.managementToken()}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.equal(res.status, expected, `${method} ${path}: ${text}`);
  return text ? JSON.parse(text) : null;
}

// -- setup: Gatehouse, the RP's application, users, the action, the browser ---------------

const rp = await new RelyingParty().start();
const site = await new ProfileSite().start();
const users = {};
let browser;

const handle = useGatehouse(async (server) => {
  const application = await server.createClient({
    name: 'Node RP (actions redirect)',
    app_type: 'regular_web',
    callbacks: [rp.redirectUri],
  });
  users.ada = await server.createUser(ADA);
  users.bo = await server.createUser(BO);
  await rp.connect(server, application);
  site.continueUrl = `${server.baseUrl}/continue`;

  const name = 'Ask for the company';
  const action = await management(server, 'POST', '/api/v2/actions/actions', {
    name,
    supported_triggers: [{ id: 'post-login', version: 'v3' }],
    code: actionCode(`${site.baseUrl}/profile`),
    secrets: [{ name: 'SHARED', value: SHARED }],
  }, 201);
  await management(server, 'POST', `/api/v2/actions/actions/${encodeURIComponent(action.id)}/deploy`, {}, 202);
  await management(server, 'PATCH', '/api/v2/actions/triggers/post-login/bindings', {
    bindings: [{ ref: { type: 'action_name', value: name } }],
  }, 200);

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
});

after(async () => {
  await browser?.close();
  await rp.close();
  await site.close();
});

/**
 * In a fresh browser context: start at the RP, log in as `email` on the hosted page, land
 * on the profile site, type `company` and save. Resolves once the browser is back at the
 * RP's callback, with the page, the /continue POST's request headers and body, and the
 * Gatehouse cookies the browser held while on the profile site.
 */
async function loginThroughProfile(email, company) {
  const context = await browser.newContext();
  const page = await context.newPage();
  let continuePost = null;
  let loginPost = null;
  page.on('request', (r) => {
    if (r.method() !== 'POST') return;
    if (r.url() === site.continueUrl) continuePost = r;
    if (r.url().startsWith(`${handle.server.baseUrl}/u/login`)) loginPost = r;
  });

  await page.goto(`${rp.baseUrl}/login`);
  assert.equal(new URL(page.url()).pathname, '/u/login', page.url());
  await page.locator('#username').fill(email);
  await page.locator('#password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Continue' }).click();

  // The action sent the browser to the other site, with its token and the state.
  await page.waitForURL(`${site.baseUrl}/profile?**`);
  const away = new URL(page.url());
  const state = away.searchParams.get('state');
  assert.ok(state, page.url());
  assert.ok(away.searchParams.get('session_token'), page.url());
  const heldCookies = await context.cookies(handle.server.baseUrl);

  await page.locator('#company').fill(company);
  await page.getByRole('button', { name: 'Save' }).click();
  await page.waitForURL(`${rp.redirectUri}?**`);

  assert.ok(continuePost, 'the browser POSTed to /continue');
  // The same-site login POST did carry Gatehouse's cookies: the headers seen here include them.
  assert.ok(loginPost, 'the browser POSTed the login form');
  assert.match((await loginPost.allHeaders()).cookie ?? '', /(^|; )gh_csrf=/);
  return {
    page,
    context,
    state,
    heldCookies,
    headers: await continuePost.allHeaders(),
    body: new URLSearchParams(continuePost.postData() ?? ''),
  };
}

/** Assert the /continue POST came from the other site and without the session cookie. */
function assertCrossSiteWithoutSession({ headers, body, state, heldCookies }) {
  // The browser did hold Gatehouse's session cookie: it was left off because of SameSite.
  assert.ok(heldCookies.some((c) => c.name === SESSION_COOKIE && c.sameSite === 'Lax'),
    JSON.stringify(heldCookies));
  assert.equal(headers.origin, site.baseUrl, JSON.stringify(headers));
  assert.equal(headers['sec-fetch-site'], 'cross-site', JSON.stringify(headers));
  const cookie = headers.cookie ?? '';
  assert.ok(!cookie.split(';').some((pair) => pair.trim().startsWith(`${SESSION_COOKIE}=`)),
    `cookie sent with /continue: ${cookie}`);
  assert.equal(body.get('state'), state);
  assert.ok(body.get('profile_token'));
}

// -- the journeys --------------------------------------------------------------------------

test('an action redirects to another site, which posts back cross-site to /continue', { timeout: 120_000 }, async () => {
  const server = handle.server;
  const seenBefore = site.seen.length;
  const back = await loginThroughProfile(ADA, COMPANY);

  // The profile site verified the action's token: HS256 with SHARED, bound to the state.
  assert.equal(site.seen.length, seenBefore + 1);
  const claims = site.seen.at(-1);
  assert.equal(claims.state, back.state);
  assert.equal(claims.hello, 'from gatehouse');
  assert.equal(claims.sub, users.ada.user_id);

  assertCrossSiteWithoutSession(back);

  // Signed in at the RP, whose library verified the ID token carrying the company.
  const page = back.page;
  assert.equal(await page.locator('#email').textContent(), ADA, await page.content());
  const idClaims = JSON.parse(await page.locator('#claims').textContent());
  assert.equal(idClaims.sub, users.ada.user_id);
  assert.equal(idClaims[CLAIM], COMPANY);

  // The action saved the company in the user's metadata.
  const stored = await server.user(users.ada.user_id);
  assert.equal(stored.user_metadata?.company, COMPANY, JSON.stringify(stored));

  await back.context.close();
});

test('a profile_token signed with another secret ends at the callback with access_denied', { timeout: 120_000 }, async () => {
  const server = handle.server;
  site.answerSecret = 'not-the-shared-secret-0123456789';
  try {
    const back = await loginThroughProfile(BO, 'Evil Corp');
    assertCrossSiteWithoutSession(back);
    const page = back.page;
    assert.equal(await page.locator('#error').textContent(), 'access_denied', await page.content());
    const description = await page.locator('#error_description').textContent();
    assert.match(description, /invalid signature/, description);
    assert.equal(await page.locator('#claims').count(), 0);
    const stored = await server.user(users.bo.user_id);
    assert.equal(stored.user_metadata?.company, undefined, JSON.stringify(stored));
    await back.context.close();
  } finally {
    site.answerSecret = SHARED;
  }
});
