// Proves that openid-client (panva, v6), a third-party certified OpenID Connect
// relying party library used unchanged, completes the authorization-code + PKCE
// flow against the real Gatehouse binary: discovery, the hosted login form
// (driven here over plain HTTP, cookies kept by hand), the code exchange with
// ID-token validation (JWKS signature, iss, aud, exp, nonce, auth_time) and
// state/PKCE checks, single-use codes, userinfo, rotating refresh tokens with
// reuse detection, SSO with prompt=none, RP-initiated logout, and a public
// client (no secret) with PKCE.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as client from 'openid-client';
import { PASSWORD, freePort, useGatehouse } from './gatehouse.mjs';

const SCOPE = 'openid profile email offline_access';
const EMAIL = 'node-rp@example.com';
const INSECURE = { execute: [client.allowInsecureRequests] }; // the issuer is plain http
const LIMIT = { timeout: 60_000 }; // per test: a hang fails instead of stalling CI

// -- a browser's cookies, over fetch --------------------------------------------

/** Cookies for the one host every request goes to (all of Gatehouse's have Path=/). */
class CookieJar {
  #cookies = new Map();

  store(res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const [name, value] = [pair.slice(0, eq), pair.slice(eq + 1)];
      const expired = attributes.some((a) => /^max-age=(0|-)/i.test(a)
        || (/^expires=/i.test(a) && Date.parse(a.slice(8)) <= Date.now()));
      if (expired) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  has(name) { return this.#cookies.has(name); }
  header() { return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; '); }
  copy() {
    const jar = new CookieJar();
    for (const [k, v] of this.#cookies) jar.#cookies.set(k, v);
    return jar;
  }
}

async function browserGet(url, jar) {
  const res = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header() } });
  jar.store(res);
  return res;
}

async function browserPost(url, form, jar) {
  const res = await fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  jar.store(res);
  return res;
}

function location(res) {
  assert.equal(res.status, 302, `expected a redirect from ${res.url}, got ${res.status}`);
  return new URL(res.headers.get('location'), res.url);
}

// -- the hosted login page --------------------------------------------------------

const unescapeHtml = (s) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'")
  .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

const attribute = (tag, name) => {
  const value = tag.match(new RegExp(`\\s${name}="([^"]*)"`, 'i'))?.[1];
  return value === undefined ? undefined : unescapeHtml(value);
};

/** The login form's action and its hidden inputs (state, _csrf). */
function parseLoginForm(html, pageUrl) {
  const form = html.match(/<form\b[^>]*>/i)?.[0];
  assert.ok(form, 'no <form> on the login page');
  const hidden = {};
  for (const [tag] of html.matchAll(/<input\b[^>]*>/gi)) {
    if (attribute(tag, 'type') === 'hidden') hidden[attribute(tag, 'name')] = attribute(tag, 'value');
  }
  return { action: new URL(attribute(form, 'action'), pageUrl), hidden };
}

/** Follow the authorization URL to the hosted login page, log in, return the callback URL. */
async function logIn(authorizationUrl, jar, email = EMAIL, password = PASSWORD) {
  const loginUrl = location(await browserGet(authorizationUrl, jar));
  assert.equal(loginUrl.pathname, '/u/login');
  const page = await browserGet(loginUrl, jar);
  assert.equal(page.status, 200);
  assert.ok(jar.has('gh_csrf'), 'the login page sets gh_csrf');
  const { action, hidden } = parseLoginForm(await page.text(), loginUrl);
  assert.ok(hidden.state && hidden._csrf, 'hidden state and _csrf inputs');

  const callback = location(await browserPost(action, { ...hidden, username: email, password }, jar));
  assert.ok(jar.has('gh_session'), 'a successful login sets gh_session');
  return callback;
}

// -- the relying party ------------------------------------------------------------

/** A fresh authorization request: URL with PKCE (S256), state and nonce, and the checks. */
async function authorizationRequest(config, redirectUri, extra = {}) {
  const checks = {
    pkceCodeVerifier: client.randomPKCECodeVerifier(),
    expectedState: client.randomState(),
    expectedNonce: client.randomNonce(),
    idTokenExpected: true,
  };
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: SCOPE,
    state: checks.expectedState,
    nonce: checks.expectedNonce,
    code_challenge: await client.calculatePKCECodeChallenge(checks.pkceCodeVerifier),
    code_challenge_method: 'S256',
    ...extra,
  });
  return { url, checks };
}

/** Assert that `promise` rejects with an OAuth error response carrying `error`. */
async function rejectsWithOAuthError(promise, error) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof client.ResponseBodyError || err instanceof client.AuthorizationResponseError,
      `expected an OAuth error response, got ${err}`);
    assert.equal(err.error, error);
    return true;
  });
}

// -- shared state: one confidential application, one user, one cookie jar ---------

let rp; // { redirectUri, logoutUri, application, config }
const jar = new CookieJar();
let tokens; // the first token response

const gh = useGatehouse(async (server) => {
  const port = await freePort(); // nothing listens there: the test reads the redirects itself
  const redirectUri = `http://127.0.0.1:${port}/callback`;
  const logoutUri = `http://127.0.0.1:${port}/bye`;
  const application = await server.createClient({
    name: 'Node RP',
    app_type: 'regular_web',
    callbacks: [redirectUri],
    allowed_logout_urls: [logoutUri],
  });
  await server.createUser(EMAIL);
  const config = await client.discovery(new URL(server.issuer), application.client_id, undefined,
    client.ClientSecretPost(application.client_secret), INSECURE);
  rp = { redirectUri, logoutUri, application, config };
});

test('discovery accepts the issuer metadata', LIMIT, () => {
  const meta = rp.config.serverMetadata();
  assert.equal(meta.issuer, gh.server.issuer);
  assert.equal(meta.jwks_uri, `${gh.server.baseUrl}/.well-known/jwks.json`);
  assert.equal(meta.end_session_endpoint, `${gh.server.baseUrl}/oidc/logout`);
  assert.ok(meta.supportsPKCE('S256'));
});

test('authorization code + PKCE: hosted login, code exchange, ID token validated', LIMIT, async () => {
  const { url, checks } = await authorizationRequest(rp.config, rp.redirectUri, { max_age: '300' });
  checks.maxAge = 300; // the library then requires auth_time, no older than that
  const callback = await logIn(url, jar);
  assert.equal(callback.origin + callback.pathname, rp.redirectUri);
  assert.equal(callback.searchParams.get('state'), checks.expectedState);

  tokens = await client.authorizationCodeGrant(rp.config, callback, checks);
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
  assert.ok(tokens.access_token && tokens.refresh_token, 'access and refresh tokens');
  const claims = tokens.claims(); // signature (JWKS), iss, aud, exp, iat, nonce, auth_time checked by the library
  assert.equal(claims.iss, gh.server.issuer);
  assert.equal(claims.aud, rp.application.client_id);
  assert.equal(claims.nonce, checks.expectedNonce);
  assert.equal(claims.email, EMAIL);
  assert.match(claims.sub, /^auth0\|[0-9a-f]{24}$/);
  assert.equal(typeof claims.sid, 'string', 'sid, the session the token belongs to');
  assert.equal(tokens.scope, SCOPE);
});

test('a code is single-use; replaying it revokes what it issued', LIMIT, async () => {
  const { url, checks } = await authorizationRequest(rp.config, rp.redirectUri, { prompt: 'none' });
  const callback = location(await browserGet(url, jar)); // SSO: straight back with a code
  const issued = await client.authorizationCodeGrant(rp.config, callback, checks);
  await rejectsWithOAuthError(client.authorizationCodeGrant(rp.config, callback, checks), 'invalid_grant');
  await rejectsWithOAuthError(client.refreshTokenGrant(rp.config, issued.refresh_token), 'invalid_grant');
});

test('the code is bound to the PKCE challenge', LIMIT, async () => {
  const { url, checks } = await authorizationRequest(rp.config, rp.redirectUri, { prompt: 'none' });
  const callback = location(await browserGet(url, jar)); // SSO: straight back with a code
  const wrong = { ...checks, pkceCodeVerifier: client.randomPKCECodeVerifier() };
  await rejectsWithOAuthError(client.authorizationCodeGrant(rp.config, callback, wrong), 'invalid_grant');
});

test('userinfo returns the email for the access token', LIMIT, async () => {
  const sub = tokens.claims().sub;
  const info = await client.fetchUserInfo(rp.config, tokens.access_token, sub);
  assert.equal(info.sub, sub);
  assert.equal(info.email, EMAIL);
});

test('refresh tokens rotate; reusing an old one fails and revokes the family', LIMIT, async () => {
  const first = tokens.refresh_token;
  const second = await client.refreshTokenGrant(rp.config, first);
  assert.ok(second.refresh_token, 'a new refresh token');
  assert.notEqual(second.refresh_token, first);
  const info = await client.fetchUserInfo(rp.config, second.access_token, tokens.claims().sub);
  assert.equal(info.email, EMAIL);

  await rejectsWithOAuthError(client.refreshTokenGrant(rp.config, first), 'invalid_grant');
  await rejectsWithOAuthError(client.refreshTokenGrant(rp.config, second.refresh_token), 'invalid_grant');
});

test('prompt=none: a code with the session cookie, login_required without it', LIMIT, async () => {
  const withSession = await authorizationRequest(rp.config, rp.redirectUri, { prompt: 'none' });
  const callback = location(await browserGet(withSession.url, jar));
  const sso = await client.authorizationCodeGrant(rp.config, callback, withSession.checks);
  assert.equal(sso.claims().email, EMAIL);

  const without = await authorizationRequest(rp.config, rp.redirectUri, { prompt: 'none' });
  const denied = location(await browserGet(without.url, new CookieJar()));
  assert.equal(denied.searchParams.get('error'), 'login_required');
  await rejectsWithOAuthError(client.authorizationCodeGrant(rp.config, denied, without.checks), 'login_required');
});

test('RP-initiated logout redirects with state and ends the session', LIMIT, async () => {
  const oldCookies = jar.copy(); // the session cookie as it was before logging out
  const state = client.randomState();
  const endSession = client.buildEndSessionUrl(rp.config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: rp.logoutUri,
    state,
  });
  const bye = location(await browserGet(endSession, jar));
  assert.equal(bye.origin + bye.pathname, rp.logoutUri);
  assert.equal(bye.searchParams.get('state'), state);

  for (const cookies of [jar, oldCookies]) { // the cookie is cleared and the session is gone
    const { url, checks } = await authorizationRequest(rp.config, rp.redirectUri, { prompt: 'none' });
    const denied = location(await browserGet(url, cookies));
    await rejectsWithOAuthError(client.authorizationCodeGrant(rp.config, denied, checks), 'login_required');
  }
});

test('public client (token_endpoint_auth_method none) with PKCE', LIMIT, async () => {
  const redirectUri = `http://127.0.0.1:${await freePort()}/callback`;
  const spa = await gh.server.createClient({
    name: 'Node SPA',
    app_type: 'spa',
    token_endpoint_auth_method: 'none',
    callbacks: [redirectUri],
  });
  assert.equal(spa.token_endpoint_auth_method, 'none');
  const config = await client.discovery(new URL(gh.server.issuer), spa.client_id, undefined,
    client.None(), INSECURE);

  const { url, checks } = await authorizationRequest(config, redirectUri);
  const callback = await logIn(url, new CookieJar());
  const spaTokens = await client.authorizationCodeGrant(config, callback, checks);
  assert.equal(spaTokens.claims().aud, spa.client_id);
  assert.equal(spaTokens.claims().email, EMAIL);
  const info = await client.fetchUserInfo(config, spaTokens.access_token, spaTokens.claims().sub);
  assert.equal(info.email, EMAIL);

  // Without the verifier the code is worthless to whoever intercepts it.
  const next = await authorizationRequest(config, redirectUri);
  const intercepted = await logIn(next.url, new CookieJar());
  await rejectsWithOAuthError(
    client.authorizationCodeGrant(config, intercepted, { ...next.checks, pkceCodeVerifier: undefined }),
    'invalid_grant');
});
