// Auth0's own browser SDKs, unchanged, against Gatehouse in headless Chromium.
//
// Gatehouse runs behind a TLS-terminating proxy on https://localhost:<p1> (the
// SDKs only speak https; the certificate is made here with openssl and trusted by
// Chromium through its SPKI pin), and the single-page app is a static page on
// another origin, https://localhost:<p2>, loading the SDK's published browser
// bundle from node_modules. Both are on one site (localhost), so the SSO cookie
// (SameSite=Lax) reaches the silent-authentication iframe: see docs/spa.md for
// applications on another site.
//
// `@auth0/auth0-spa-js`: loginWithRedirect + handleRedirectCallback, getUser,
// getTokenSilently from the cache and through the iframe (response_mode=web_message,
// prompt=none), reload + checkSession, refresh tokens with rotation
// (useRefreshTokens), loginWithPopup, logout then getTokenSilently failing with
// login_required. `auth0-js`: embedded login through /co/authenticate and the
// co_verifier cookie, then parseHash (its ID-token check fetches the JWKS across
// origins). A landing page: "Sign in" in a popup, then /userinfo from the page.
// CORS for other origins and framing by other origins are refused.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { PASSWORD, REPO_ROOT, useGatehouse } from './gatehouse.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const LIMIT = { timeout: 120_000 };
const MODULES = join(REPO_ROOT, 'tests/compat/node/node_modules');

// -- TLS: one self-signed certificate for localhost, pinned in Chromium ----------------

const certDir = mkdtempSync(join(tmpdir(), 'gatehouse-spa-tls-'));
execFileSync('openssl', [
  'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
  '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem'), '-days', '2',
  '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
], { stdio: 'ignore' });
const TLS = { key: readFileSync(join(certDir, 'key.pem')), cert: readFileSync(join(certDir, 'cert.pem')) };
const spkiPin = (() => {
  const der = execFileSync('openssl', ['x509', '-in', join(certDir, 'cert.pem'), '-pubkey', '-noout']);
  const spki = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'der'], { input: der });
  return createHash('sha256').update(spki).digest('base64');
})();

async function listen(server) {
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return server.address().port;
}

// Gatehouse's public address: the proxy, started before the server so its URL is known.
let gatehousePort = 0;
const proxy = createHttpsServer(TLS, (req, res) => {
  const upstream = httpRequest({
    host: '127.0.0.1', port: gatehousePort, method: req.method, path: req.url, headers: req.headers,
  }, (up) => {
    res.writeHead(up.statusCode, up.rawHeaders.length ? rawToObject(up.rawHeaders) : up.headers);
    up.pipe(res);
  });
  upstream.on('error', () => { res.writeHead(502); res.end(); });
  req.pipe(upstream);
});
/** Keeps repeated headers (Set-Cookie, Vary) as arrays. */
function rawToObject(raw) {
  const out = {};
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i];
    if (out[k] === undefined) out[k] = raw[i + 1];
    else out[k] = [].concat(out[k], raw[i + 1]);
  }
  return out;
}
const PROXY_PORT = await listen(proxy);
const DOMAIN = `localhost:${PROXY_PORT}`;
const ISSUER = `https://${DOMAIN}`;

// The application's pages, on another origin.
const app = createHttpsServer(TLS, (req, res) => {
  const url = new URL(req.url, 'https://localhost');
  const files = {
    '/spa.js': join(MODULES, '@auth0/auth0-spa-js/dist/auth0-spa-js.production.js'),
    '/auth0.js': join(MODULES, 'auth0-js/dist/auth0.min.js'),
  };
  if (files[url.pathname]) {
    res.writeHead(200, { 'content-type': 'text/javascript' });
    res.end(readFileSync(files[url.pathname]));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  if (url.pathname === '/co-verify') {
    // The application's cross-origin verification page, as Auth0's docs give it.
    res.end(`<!doctype html><meta charset="utf-8"><script src="/auth0.js"></script><script>
      new auth0.WebAuth({ domain: ${JSON.stringify(`localhost:${PROXY_PORT}`)}, clientID: 'unused' }).crossOriginVerification();
    </script>`);
  } else if (url.pathname.startsWith('/embedded')) {
    res.end('<!doctype html><meta charset="utf-8"><title>Embedded</title><script src="/auth0.js"></script><h1>Embedded login</h1>');
  } else if (url.pathname.startsWith('/landing')) {
    res.end('<!doctype html><meta charset="utf-8"><title>Landing</title><script src="/spa.js"></script><button id="signin">Sign in</button><p id="who"></p>');
  } else {
    res.end('<!doctype html><meta charset="utf-8"><title>SPA</title><script src="/spa.js"></script><h1>SPA</h1>');
  }
});
const APP_PORT = await listen(app);
const APP = `https://localhost:${APP_PORT}`;

const email = `spa.${randomBytes(4).toString('hex')}@example.org`;
let clientId = '';
let embeddedClientId = '';

const gh = useGatehouse(async (server) => {
  gatehousePort = server.port;
  const spa = await server.createClient({
    name: 'Ünïcode SPA',
    app_type: 'spa',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token', 'implicit'],
    callbacks: [`${APP}/`, `${APP}/landing`],
    allowed_logout_urls: [`${APP}/`],
    web_origins: [APP],
  });
  clientId = spa.client_id;
  const embedded = await server.createClient({
    name: 'Embedded login',
    app_type: 'spa',
    token_endpoint_auth_method: 'none',
    grant_types: ['implicit', 'authorization_code'],
    callbacks: [`${APP}/embedded`],
    allowed_origins: [APP],
    web_origins: [APP],
    cross_origin_authentication: true,
    cross_origin_loc: `${APP}/co-verify`,
  });
  embeddedClientId = embedded.client_id;
  await server.createUser(email, PASSWORD, { name: 'Åsa Öberg', email_verified: true });
}, { env: { GATEHOUSE_PUBLIC_URL: ISSUER } });

let browser;
let context;
let page;
before(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      `--ignore-certificate-errors-spki-list=${spkiPin}`,
      '--host-resolver-rules=MAP localhost 127.0.0.1',
    ],
  });
  // The pin above makes Chromium trust the certificate; the flag is for Playwright's own
  // requests (`route.fetch`, used to drop a cookie as a strict browser would).
  context = await browser.newContext({ ignoreHTTPSErrors: true });
  page = await context.newPage();
});
after(async () => {
  await browser?.close();
  proxy.close();
  app.close();
});

/** Runs `fn(arg)` in the page, where `window.client` is the SDK's client. */
const inPage = (fn, arg) => page.evaluate(fn, arg);

/** Runs `fn` in the page, which navigates away; waits for a URL matching `until`. */
async function navigateBy(fn, until, arg) {
  await Promise.all([
    // `commit`: pages passed through on the way (a form that posts itself) never finish loading.
    page.waitForURL(until, { waitUntil: 'commit' }),
    inPage(fn, arg).catch((e) => {
      if (!/context was destroyed|navigation/i.test(e.message)) throw e;
    }),
  ]);
  await page.waitForLoadState('load');
}

/** A client without the SDK's automatic checkSession (`new Auth0Client`), so each test
 *  decides when the server is asked. */
async function newSpaClient(extra = {}) {
  await inPage(async ({ domain, clientId, extra }) => {
    window.client = new auth0.Auth0Client({
      domain,
      clientId,
      authorizationParams: { redirect_uri: `${location.origin}/` },
      ...extra,
    });
  }, { domain: DOMAIN, clientId, extra });
}

async function typeCredentials(p) {
  await p.locator('#username').fill(email);
  await p.locator('#password').fill(PASSWORD);
  await p.getByRole('button', { name: 'Continue' }).click();
}

/** The /authorize requests the page makes, with their response_mode. */
function authorizeRequests() {
  const seen = [];
  const listener = (req) => {
    if (req.url().startsWith(`${ISSUER}/authorize`)) seen.push(new URL(req.url()));
  };
  context.on('request', listener);
  return { seen, stop: () => context.off('request', listener) };
}

test('auth0-spa-js: loginWithRedirect, handleRedirectCallback, getUser', LIMIT, async () => {
  await page.goto(`${APP}/`);
  await newSpaClient();
  await navigateBy(() => window.client.loginWithRedirect(), (u) => u.href.startsWith(`${ISSUER}/u/login`));
  await Promise.all([page.waitForURL((u) => u.href.startsWith(`${APP}/?`)), typeCredentials(page)]);
  await newSpaClient();
  await inPage(() => window.client.handleRedirectCallback());
  const user = await inPage(() => window.client.getUser());
  assert.equal(user.email, email);
  assert.equal(user.name, 'Åsa Öberg');
  assert.equal(await inPage(() => window.client.isAuthenticated()), true);
  // createAuth0Client, as apps call it, checks the session itself on a fresh page.
  await page.goto(`${APP}/`);
  const restored = await inPage(async ({ domain, clientId }) => {
    window.client = await auth0.createAuth0Client({ domain, clientId, authorizationParams: { redirect_uri: `${location.origin}/` } });
    return (await window.client.getUser())?.email;
  }, { domain: DOMAIN, clientId });
  assert.equal(restored, email);
});

test('auth0-spa-js: getTokenSilently from the cache, then through the iframe (web_message)', LIMIT, async () => {
  const watch = authorizeRequests();
  const cached = await inPage(() => window.client.getTokenSilently());
  assert.equal(watch.seen.length, 0, 'the cached token needs no request');
  const fresh = await inPage(() => window.client.getTokenSilently({ cacheMode: 'off' }));
  watch.stop();
  assert.ok(cached && fresh, 'both ways gave a token');
  assert.equal(watch.seen.length, 1);
  assert.equal(watch.seen[0].searchParams.get('response_mode'), 'web_message');
  assert.equal(watch.seen[0].searchParams.get('prompt'), 'none');
});

test("auth0-spa-js: the user's own Management API token reads and changes their own profile from the page", LIMIT, async () => {
  const result = await inPage(async ({ issuer }) => {
    const audience = `${issuer}/api/v2/`;
    const token = await window.client.getTokenSilently({
      authorizationParams: { audience, scope: 'read:current_user update:current_user_metadata read:users' },
    });
    const me = (await window.client.getUser()).sub;
    const call = (method, path, body) => fetch(`${issuer}/api/v2/${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body && JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, body: await r.json() }));
    const read = await call('GET', `users/${encodeURIComponent(me)}`);
    const patched = await call('PATCH', `users/${encodeURIComponent(me)}`, { user_metadata: { theme: 'nuit ☾' } });
    const other = await call('GET', `users/${encodeURIComponent('auth0|someone-else-0001')}`);
    const claims = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    return { read, patched, other, scope: claims.scope };
  }, { issuer: ISSUER });
  assert.equal(result.read.status, 200);
  assert.equal(result.read.body.email, email);
  assert.equal(result.patched.status, 200);
  assert.equal(result.patched.body.user_metadata.theme, 'nuit ☾');
  assert.equal(result.other.status, 403, 'another user is out of reach, and the page reads why');
  assert.equal(result.other.body.errorCode, 'unowned_resource');
  assert.ok(!result.scope.split(' ').includes('read:users'), result.scope);
});

test('auth0-spa-js: after a reload, checkSession restores the login silently', LIMIT, async () => {
  await page.reload();
  await newSpaClient();
  assert.equal(await inPage(() => window.client.isAuthenticated()), false, 'memory cache gone');
  await inPage(() => window.client.checkSession());
  assert.equal(await inPage(() => window.client.isAuthenticated()), true);
  assert.equal((await inPage(() => window.client.getUser())).email, email);
});

test('auth0-spa-js: useRefreshTokens renews with rotating refresh tokens, no iframe', LIMIT, async () => {
  const options = { useRefreshTokens: true, cacheLocation: 'localstorage' };
  await newSpaClient(options);
  // The SSO session answers at once.
  await navigateBy(() => window.client.loginWithRedirect(), (u) => u.href.startsWith(`${APP}/?`));
  await newSpaClient(options);
  await inPage(() => window.client.handleRedirectCallback());
  const stored = () => inPage(() => Object.keys(localStorage)
    .filter((k) => k.startsWith('@@auth0spajs@@'))
    .map((k) => JSON.parse(localStorage.getItem(k)).body?.refresh_token)
    .find(Boolean));
  const first = await stored();
  assert.ok(first, 'the code exchange gave a refresh token (offline_access)');
  const watch = authorizeRequests();
  const tokenCalls = [];
  const onRequest = (r) => { if (r.url() === `${ISSUER}/oauth/token`) tokenCalls.push(r.postData() || ''); };
  context.on('request', onRequest);
  const a = await inPage(() => window.client.getTokenSilently({ cacheMode: 'off' }));
  const second = await stored();
  const b = await inPage(() => window.client.getTokenSilently({ cacheMode: 'off' }));
  const third = await stored();
  context.off('request', onRequest);
  watch.stop();
  assert.equal(watch.seen.length, 0, 'no iframe with refresh tokens');
  assert.equal(tokenCalls.length, 2);
  assert.ok(tokenCalls.every((body) => body.includes('refresh_token')), tokenCalls.join('\n'));
  assert.ok(a && b, 'each refresh gave an access token');
  assert.ok(second && second !== first && third !== second, 'each refresh rotated the token');
  // The first refresh token was rotated out: using it again is refused (reuse detection).
  const reuse = await inPage(async ({ issuer, clientId, token }) => {
    const r = await fetch(`${issuer}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', client_id: clientId, refresh_token: token }),
    });
    return { status: r.status, body: await r.json() };
  }, { issuer: ISSUER, clientId, token: first });
  assert.equal(reuse.status, 403);
  assert.equal(reuse.body.error, 'invalid_grant', 'the error is readable across origins (CORS on errors)');
  await inPage(() => localStorage.clear());
});

test('auth0-spa-js: logout, then getTokenSilently fails with login_required', LIMIT, async () => {
  await newSpaClient();
  await navigateBy(
    () => window.client.logout({ logoutParams: { returnTo: `${location.origin}/` } }),
    (u) => u.href === `${APP}/`,
  );
  await newSpaClient();
  const error = await inPage(() => window.client.getTokenSilently({ cacheMode: 'off' })
    .then(() => null, (e) => e.error));
  assert.equal(error, 'login_required');
});

test('auth0-spa-js: loginWithPopup completes through web_message to the opener', LIMIT, async () => {
  await newSpaClient();
  const [popup] = await Promise.all([
    page.waitForEvent('popup'),
    inPage(() => { window.popupDone = window.client.loginWithPopup(); }),
  ]);
  await popup.waitForURL((u) => u.href.startsWith(`${ISSUER}/u/login`));
  const closed = popup.waitForEvent('close');
  await typeCredentials(popup).catch(() => {}); // the SDK may close the popup mid-click
  await closed;
  await inPage(() => window.popupDone);
  assert.equal((await inPage(() => window.client.getUser())).email, email);
  // getTokenWithPopup: the session answers at once, through the same mode.
  const [again] = await Promise.all([
    page.waitForEvent('popup'),
    inPage(() => { window.popupToken = window.client.getTokenWithPopup(); }),
  ]);
  if (!again.isClosed()) await again.waitForEvent('close');
  assert.ok(await inPage(() => window.popupToken));
});

test('a landing page: Sign in in a popup, then /userinfo from the page', LIMIT, async () => {
  await context.clearCookies();
  await page.goto(`${APP}/landing`);
  await inPage(async ({ domain, clientId }) => {
    window.client = await auth0.createAuth0Client({
      domain, clientId, authorizationParams: { redirect_uri: `${location.origin}/landing` },
    });
    document.getElementById('signin').onclick = async () => {
      await window.client.loginWithPopup();
      const token = await window.client.getTokenSilently();
      const r = await fetch(`https://${domain}/userinfo`, { headers: { authorization: `Bearer ${token}` } });
      document.getElementById('who').textContent = (await r.json()).email;
    };
  }, { domain: DOMAIN, clientId });
  const [popup] = await Promise.all([page.waitForEvent('popup'), page.click('#signin')]);
  await popup.waitForURL((u) => u.href.startsWith(`${ISSUER}/u/login`));
  await typeCredentials(popup).catch(() => {}); // the SDK closes the popup when the answer comes
  await page.waitForFunction(() => document.getElementById('who').textContent.length > 0);
  assert.equal(await page.textContent('#who'), email);
});

test('auth0-js: embedded login through /co/authenticate and the co_verifier cookie', LIMIT, async () => {
  await context.clearCookies();
  await page.goto(`${APP}/embedded`);
  const coCalls = [];
  const onResponse = async (r) => {
    if (r.url() === `${ISSUER}/co/authenticate`) coCalls.push({ status: r.status(), headers: await r.allHeaders() });
  };
  page.on('response', onResponse);
  await navigateBy(
    ({ domain, clientId, email, password }) => {
      window.webAuth = new auth0.WebAuth({
        domain, clientID: clientId, redirectUri: `${location.origin}/embedded`, responseType: 'token id_token',
      });
      window.webAuth.login({ realm: 'Username-Password-Authentication', username: email, password }, (err) => {
        window.loginError = err;
      });
    },
    (u) => u.href.startsWith(`${APP}/embedded#`),
    { domain: DOMAIN, clientId: embeddedClientId, email, password: PASSWORD },
  );
  page.off('response', onResponse);
  assert.equal(coCalls.length, 1);
  assert.equal(coCalls[0].status, 200);
  assert.equal(coCalls[0].headers['access-control-allow-origin'], APP);
  assert.equal(coCalls[0].headers['access-control-allow-credentials'], 'true');
  // The callback is a new page: a new WebAuth reads the transaction auth0-js kept.
  const result = await inPage(({ domain, clientId }) => new Promise((ok) => {
    const webAuth = new auth0.WebAuth({
      domain, clientID: clientId, redirectUri: `${location.origin}/embedded`, responseType: 'token id_token',
    });
    webAuth.parseHash((err, r) => ok(err ? { err } : { email: r.idTokenPayload.email, at: !!r.accessToken }));
  }), { domain: DOMAIN, clientId: embeddedClientId });
  assert.deepEqual(result, { email, at: true });
});

test('auth0-js: without the cookie (third-party cookies refused), the verification page hands the verifier back', LIMIT, async () => {
  await context.clearCookies();
  await page.goto(`${APP}/embedded`);
  // A browser that refuses the cross-site cookie: the answer reaches the page without it.
  await context.route(`${ISSUER}/co/authenticate`, async (route) => {
    const response = await route.fetch();
    const headers = { ...response.headers() };
    delete headers['set-cookie'];
    // Playwright's own fetch shares the context's cookie jar: take the cookie back out.
    await context.clearCookies({ name: 'gh_co_verifier' });
    await route.fulfill({ response, headers });
  });
  const verified = [];
  const onRequest = (r) => { if (r.url() === `${ISSUER}/co/verify`) verified.push(r.method()); };
  context.on('request', onRequest);
  try {
    await navigateBy(
      ({ domain, clientId, email, password }) => {
        new auth0.WebAuth({
          domain, clientID: clientId, redirectUri: `${location.origin}/embedded`, responseType: 'token id_token',
        }).login({ realm: 'Username-Password-Authentication', username: email, password }, (err) => {
          window.loginError = err;
        });
      },
      (u) => u.href.startsWith(`${APP}/embedded#`),
      { domain: DOMAIN, clientId: embeddedClientId, email, password: PASSWORD },
    );
  } finally {
    context.off('request', onRequest);
    await context.unroute(`${ISSUER}/co/authenticate`);
  }
  assert.deepEqual(verified, ['POST'], `the verifier came back through /co/verify (${page.url()})`);
  const result = await inPage(({ domain, clientId }) => new Promise((ok) => {
    new auth0.WebAuth({
      domain, clientID: clientId, redirectUri: `${location.origin}/embedded`, responseType: 'token id_token',
    }).parseHash((err, r) => ok(err ? { err } : { email: r.idTokenPayload.email }));
  }), { domain: DOMAIN, clientId: embeddedClientId });
  assert.deepEqual(result, { email });
});

test('auth0-js: a wrong password is a readable error, and nothing logs in', LIMIT, async () => {
  await context.clearCookies();
  await page.goto(`${APP}/embedded`);
  const err = await inPage(({ domain, clientId, email }) => new Promise((ok) => {
    const webAuth = new auth0.WebAuth({
      domain, clientID: clientId, redirectUri: `${location.origin}/embedded`, responseType: 'token id_token',
    });
    webAuth.login({ realm: 'Username-Password-Authentication', username: email, password: 'not-it-Ω-1' }, (e) => ok(e));
  }), { domain: DOMAIN, clientId: embeddedClientId, email });
  assert.equal(err.code, 'access_denied', JSON.stringify(err));
  assert.equal(page.url(), `${APP}/embedded`);
});

test('CORS: another origin gets no CORS headers, preflight or not', LIMIT, async () => {
  const other = 'https://evil.example';
  const preflight = await fetch(`http://127.0.0.1:${gh.server.port}/oauth/token`, {
    method: 'OPTIONS',
    headers: { origin: other, 'access-control-request-method': 'POST', 'access-control-request-headers': 'auth0-client,content-type' },
  });
  assert.equal(preflight.headers.get('access-control-allow-origin'), null);
  const allowed = await fetch(`http://127.0.0.1:${gh.server.port}/oauth/token`, {
    method: 'OPTIONS',
    headers: { origin: APP, 'access-control-request-method': 'POST', 'access-control-request-headers': 'auth0-client,content-type' },
  });
  assert.equal(allowed.status, 204);
  assert.equal(allowed.headers.get('access-control-allow-origin'), APP);
  assert.match(allowed.headers.get('access-control-allow-headers'), /auth0-client/);
  assert.equal(allowed.headers.get('access-control-allow-credentials'), null, 'no cookies to the token endpoint');
});

test('framing: another origin cannot frame the silent-authentication answer', LIMIT, async () => {
  // An origin the application does not list: the request is refused with a page nobody may frame.
  const url = new URL(`${ISSUER}/authorize`);
  for (const [k, v] of Object.entries({
    client_id: clientId, response_type: 'code', response_mode: 'web_message', prompt: 'none',
    redirect_uri: `${APP}/landing`, state: 's', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
  })) url.searchParams.set(k, v);
  // Chromium replaces a frame its policy refuses with an error page.
  const frameFrom = async (origin) => {
    await page.goto(`${origin}/`);
    const loaded = page.waitForEvent('framenavigated', (f) => f !== page.mainFrame());
    await inPage((src) => {
      const f = document.createElement('iframe');
      f.src = src;
      document.body.appendChild(f);
    }, url.href);
    await loaded;
    await page.waitForTimeout(500);
    const child = page.frames().find((f) => f !== page.mainFrame());
    return child.url();
  };
  assert.match(await frameFrom(`https://127.0.0.1:${APP_PORT}`), /^chrome-error:/, 'framing by an unlisted origin is refused');
  assert.ok((await frameFrom(APP)).startsWith(`${ISSUER}/authorize`), 'the listed web origin may frame it');
  // What the server said: web_message for a listed origin may be framed by it alone.
  const r = await fetch(`http://127.0.0.1:${gh.server.port}${url.pathname}${url.search}`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-frame-options'), null);
  assert.match(r.headers.get('content-security-policy'), new RegExp(`frame-ancestors ${APP};`));
  const body = await r.text();
  assert.match(body, /"error":"login_required"/);
});
