// Proves Gatehouse's SAML connections (Auth0's `samlp` strategy) against an independent SAML
// identity provider: samlify (its signatures made by xml-crypto), run by saml_idp.mjs on
// http://localhost:<port>, configured from nothing but Gatehouse's SP metadata
// (`/samlp/metadata?connection=NAME`), while Gatehouse's connections are created from the
// IdP's metadata XML. In headless Chromium (Debian's, driven by playwright-core):
//
// * HTTP-Redirect binding, signed assertion: the RP's `connection=acme-saml` goes to the
//   IdP, whose page posts the Response to `/login/callback?connection=acme-saml`, and the
//   RP's library verifies Gatehouse's ID token (`sub` samlp|acme-saml|<NameID>);
// * HTTP-POST binding, signed response (no assertion signature): connection acme-saml-post;
// * both signed, reached by home-realm discovery: the hosted page asks for the email
//   first, and an address of `acme.example` (acme-saml's `domain_aliases`) goes to the IdP
//   without a password field ever being shown.
//
// Without a browser (fetch, redirects read by hand), Responses made by samlify for a real
// login request and then changed are refused at the application's callback with
// `access_denied`, and nobody is created: a tampered assertion, a signature-wrapped one, a
// wrong audience, an expired one, one answering another request, one with an XML external
// entity, and replays (a solicited Response posted twice; an IdP-initiated one posted
// twice, which only the assertion-id cache catches). The groups the IdP sends map, through
// a group mapping, to a role whose permission is in the access token.
//
// With GATEHOUSE_TEST_DATABASE_URL set (a PostgreSQL server) the same file runs on a fresh
// PostgreSQL database (see gatehouse.mjs).

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { chromium } from 'playwright-core';
import { useGatehouse } from './gatehouse.mjs';
import { RelyingParty } from './relying_party.mjs';
import { SamlIdp } from './saml_idp.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const LIMIT = { timeout: 120_000 };
const API = 'https://reports.acme.example';
const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';

const person = (local, given, family, groups = ['Engineering', 'All Hands']) =>
  ({ email: `${local}@acme.example`, given, family, groups });

const rp = await new RelyingParty().start();
const idp = await new SamlIdp({ user: person('zoë.ünïcode', 'Zoë', 'Ünïcode') }).start();
let browser;
let application;

const gh = useGatehouse(async (server) => {
  application = await server.createClient({
    name: 'Node RP',
    app_type: 'regular_web',
    callbacks: [rp.redirectUri],
    allowed_logout_urls: [`${rp.baseUrl}/signed-out`],
  });
  await rp.connect(server, application);
  const metadataXml = idp.metadata();
  const connections = [
    { name: 'acme-saml', display_name: 'Acme SSO', options: { metadataXml, domain_aliases: ['acme.example'] } },
    { name: 'acme-saml-post', options: { metadataXml, protocolBinding: POST } },
    {
      name: 'acme-saml-idp',
      options: { metadataXml, idpinitiated: { enabled: true, client_id: application.client_id, client_authorizequery: 'response_type=code&scope=openid%20email' } },
    },
  ];
  for (const c of connections) {
    await server.createConnection({ strategy: 'samlp', enabled_clients: [application.client_id], ...c });
    // What the IdP's administrator uploads: Gatehouse's SP metadata, keyed by its entity id.
    const res = await fetch(`${server.baseUrl}/samlp/metadata?connection=${c.name}`);
    assert.equal(res.status, 200);
    const xml = await res.text();
    idp.spMetadata.set(/entityID="([^"]+)"/.exec(xml)[1], xml);
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
});

after(async () => {
  await browser?.close();
  idp.stop();
  await rp.close();
});

async function freshPage() {
  const context = await browser.newContext({ viewport: { width: 480, height: 520 } });
  return { context, page: await context.newPage() };
}

/** On the IdP's page: post the Response to Gatehouse; waits for the RP's callback. */
async function continueAtIdp(page) {
  await page.waitForURL((u) => u.origin === idp.url && u.pathname === '/sso');
  await page.getByRole('button', { name: 'Continue to the application' }).click();
  await page.waitForURL(`${rp.redirectUri}?**`);
}

async function rpClaims(page) {
  const sub = await page.locator('#sub').textContent({ timeout: 5_000 }).catch(() => null);
  assert.ok(sub, `the RP did not sign in: ${await page.content()}`);
  return JSON.parse(await page.locator('#claims').textContent());
}

// -- in the browser ---------------------------------------------------------------------

test('HTTP-Redirect binding, signed assertion: the IdP logs the user in to the RP', LIMIT, async () => {
  idp.signing = 'assertion';
  idp.user = person('zoë.ünïcode', 'Zoë', 'Ünïcode');
  const { context, page } = await freshPage();
  await page.goto(`${rp.baseUrl}/login?connection=acme-saml`);
  await continueAtIdp(page);
  assert.equal(idp.requests.at(-1).binding, 'redirect');
  const claims = await rpClaims(page);
  assert.equal(claims.sub, 'samlp|acme-saml|zoë.ünïcode@acme.example');
  assert.equal(claims.email, 'zoë.ünïcode@acme.example');
  assert.equal(claims.given_name, 'Zoë');

  const user = await gh.server.user('samlp|acme-saml|zoë.ünïcode@acme.example');
  const { provider, connection, isSocial, user_id: identityId } = user.identities[0];
  assert.deepEqual(
    { provider, connection, isSocial, identityId },
    { provider: 'samlp', connection: 'acme-saml', isSocial: false, identityId: 'acme-saml|zoë.ünïcode@acme.example' },
  );
  assert.equal(user.family_name, 'Ünïcode');
  assert.deepEqual(user.groups, ['Engineering', 'All Hands']);
  await context.close();
});

test('HTTP-POST binding, signed response: the IdP receives a posted AuthnRequest', LIMIT, async () => {
  idp.signing = 'response';
  idp.user = person('bjørn', 'Bjørn', 'Þórsson', ['Sales']);
  const { context, page } = await freshPage();
  await page.goto(`${rp.baseUrl}/login?connection=acme-saml-post`);
  await continueAtIdp(page);
  assert.equal(idp.requests.at(-1).binding, 'post');
  const claims = await rpClaims(page);
  assert.equal(claims.sub, 'samlp|acme-saml-post|bjørn@acme.example');
  const signed = Buffer.from(idp.answered.at(-1), 'base64').toString('utf8');
  assert.equal((signed.match(/<ds:Signature[\s>]/g) ?? []).length, 1, 'only the response is signed');
  await context.close();
});

test('home-realm discovery: an acme.example email goes to the IdP from the email step', LIMIT, async () => {
  idp.signing = 'both';
  idp.user = person('ada', 'Ada', 'Lovelace');
  const { context, page } = await freshPage();
  await page.goto(`${rp.baseUrl}/login`);
  assert.equal(new URL(page.url()).pathname, '/u/login');
  assert.equal(await page.locator('input[type=password]').count(), 0, 'the email is asked first');
  await page.locator('#username').fill('ada@ACME.example');
  await page.getByRole('button', { name: 'Continue' }).click();
  await continueAtIdp(page);
  const claims = await rpClaims(page);
  assert.equal(claims.sub, 'samlp|acme-saml|ada@acme.example');
  const signed = Buffer.from(idp.answered.at(-1), 'base64').toString('utf8');
  assert.equal((signed.match(/<ds:Signature[\s>]/g) ?? []).length, 2, 'response and assertion signed');
  await context.close();

  // Another domain gets the password field, with the email kept.
  const other = await freshPage();
  await other.page.goto(`${rp.baseUrl}/login`);
  await other.page.locator('#username').fill('someone@example.org');
  await other.page.getByRole('button', { name: 'Continue' }).click();
  await other.page.locator('input[type=password]').waitFor();
  assert.equal(await other.page.locator('#username').inputValue(), 'someone@example.org');
  await other.context.close();
});

test('a federated logout ends the session at Gatehouse and at the IdP', LIMIT, async () => {
  idp.signing = 'assertion';
  idp.user = person('lin', 'Lin', 'Lee');
  const { context, page } = await freshPage();
  await page.goto(`${rp.baseUrl}/login?connection=acme-saml`);
  await continueAtIdp(page);
  assert.equal((await rpClaims(page)).sub, 'samlp|acme-saml|lin@acme.example');
  const issued = idp.sessions.filter((s) => s.email === 'lin@acme.example').at(-1);

  const returnTo = `${rp.baseUrl}/signed-out`;
  // Gatehouse → the IdP's logout → Gatehouse's /logout → returnTo (where the RP has no page:
  // reaching it is the end of the journey).
  const reached = page.waitForResponse((r) => r.url() === returnTo);
  await page.goto(`${gh.server.baseUrl}/v2/logout?federated&client_id=${application.client_id}&returnTo=${encodeURIComponent(returnTo)}`).catch(() => {});
  await reached;
  const asked = idp.logoutRequests.at(-1);
  assert.equal(asked.nameId, 'lin@acme.example');
  assert.equal(asked.sessionIndex, issued.sessionIndex);
  assert.match(asked.issuer, /:acme-saml$/);

  // The Gatehouse session is gone: a silent login needs a login now.
  const silent = new URLSearchParams({
    client_id: application.client_id, redirect_uri: rp.redirectUri, response_type: 'code',
    scope: 'openid', state: 'silent', prompt: 'none',
  });
  const res = await context.request.get(`${gh.server.baseUrl}/authorize?${silent}`, { maxRedirects: 0 });
  assert.equal(res.status(), 302);
  assert.equal(new URL(res.headers().location).searchParams.get('error'), 'login_required');
  await context.close();
});

// -- without a browser: refusals ---------------------------------------------------------

/** Starts a login at `connection`; answers the IdP's view of it and the RelayState. */
async function startLogin(connection, extra = {}) {
  const q = new URLSearchParams({
    client_id: application.client_id,
    redirect_uri: rp.redirectUri,
    response_type: 'code',
    scope: 'openid email',
    state: `st-${Math.random().toString(36).slice(2)}`,
    connection,
    ...extra,
  });
  const res = await fetch(`${gh.server.baseUrl}/authorize?${q}`, { redirect: 'manual' });
  assert.equal(res.status, 302, await res.text());
  const location = new URL(res.headers.get('location'));
  assert.equal(location.origin, idp.url);
  const xml = (await import('node:zlib')).inflateRawSync(Buffer.from(location.searchParams.get('SAMLRequest'), 'base64')).toString('utf8');
  const id = /ID="([^"]+)"/.exec(xml)[1];
  const entity = /<saml:Issuer>([^<]+)<\/saml:Issuer>/.exec(xml)[1];
  return { id, relayState: location.searchParams.get('RelayState'), sp: idp.spFrom(idp.spMetadata.get(entity)), state: q.get('state') };
}

/** Posts a SAMLResponse to the connection's consumer as the browser would. */
async function postResponse(connection, samlResponse, relayState) {
  const body = new URLSearchParams({ SAMLResponse: samlResponse });
  if (relayState !== undefined) body.set('RelayState', relayState);
  return fetch(`${gh.server.baseUrl}/login/callback?connection=${connection}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
}

/** The RP's callback parameters a refused Response was answered with. */
async function refusal(res) {
  assert.equal(res.status, 302, `expected a redirect to the application, got ${res.status}: ${await res.text()}`);
  const to = new URL(res.headers.get('location'));
  assert.equal(`${to.origin}${to.pathname}`, rp.redirectUri);
  assert.equal(to.searchParams.get('error'), 'access_denied', to.href);
  assert.equal(to.searchParams.get('code'), null);
  return to.searchParams.get('error_description');
}

const b64 = (xml) => Buffer.from(xml, 'utf8').toString('base64');
const unb64 = (s) => Buffer.from(s, 'base64').toString('utf8');

async function nobody(email) {
  assert.deepEqual(await gh.server.usersByEmail(email), [], `${email} must not have been created`);
}

test('a tampered assertion is refused and stores nothing', LIMIT, async () => {
  idp.signing = 'assertion';
  const who = person('mallory', 'Mallory', 'M');
  const login = await startLogin('acme-saml');
  const genuine = unb64(await idp.respond(login.sp, login.id, { user: who }));
  const tampered = genuine.replaceAll('mallory@acme.example', 'ceo@acme.example');
  const why = await refusal(await postResponse('acme-saml', b64(tampered), login.relayState));
  assert.match(why, /not signed by the identity provider/);
  await nobody('ceo@acme.example');
  await nobody('mallory@acme.example');
});

test('a signature-wrapped assertion is refused', LIMIT, async () => {
  idp.signing = 'assertion';
  const login = await startLogin('acme-saml');
  const xml = unb64(await idp.respond(login.sp, login.id, { user: person('mallory', 'Mallory', 'M') }));
  const start = xml.indexOf('<saml:Assertion');
  const end = xml.indexOf('</saml:Assertion>') + '</saml:Assertion>'.length;
  const signed = xml.slice(start, end);
  const evil = signed.replace(/<ds:Signature[\s\S]*<\/ds:Signature>/, '').replaceAll('mallory@acme.example', 'ceo@acme.example');
  // The signed original hidden in Extensions, an unsigned twin with the same ID in its place.
  const wrapped = `${xml.slice(0, start)}<samlp:Extensions>${signed}</samlp:Extensions>${evil}${xml.slice(end)}`;
  const why = await refusal(await postResponse('acme-saml', b64(wrapped), login.relayState));
  assert.match(why, /signed|refused/);
  await nobody('ceo@acme.example');
});

test('a wrong audience, another issuer, an IdP\'s refusal, an expired assertion and another request\'s answer are refused', LIMIT, async () => {
  idp.signing = 'assertion';
  const who = person('eve', 'Eve', 'E');
  const minutesAgo = (m) => new Date(Date.now() - m * 60_000).toISOString();
  const cases = [
    ['audience', (v) => ({ ...v, Audience: 'urn:auth0:someone-else:acme-saml' }), /another audience/],
    ['issuer', (v) => ({ ...v, Issuer: 'https://sts.other-tenant.example/' }), /issued by/],
    ['status', (v) => ({ ...v, StatusCode: 'urn:oasis:names:tc:SAML:2.0:status:Responder' }), /did not log the user in \(Responder\)/],
    ['expired', (v) => ({
      ...v,
      IssueInstant: minutesAgo(30),
      ConditionsNotBefore: minutesAgo(30),
      ConditionsNotOnOrAfter: minutesAgo(20),
      SubjectConfirmationDataNotOnOrAfter: minutesAgo(20),
    }), /expired/],
  ];
  for (const [label, tweak, expected] of cases) {
    const login = await startLogin('acme-saml');
    const res = await idp.respond(login.sp, login.id, { user: who, tweak });
    assert.match(await refusal(await postResponse('acme-saml', res, login.relayState)), expected, label);
  }
  // Two logins: the answer to the first, posted with the second's RelayState.
  const first = await startLogin('acme-saml');
  const second = await startLogin('acme-saml');
  const answer = await idp.respond(first.sp, first.id, { user: who });
  assert.match(await refusal(await postResponse('acme-saml', answer, second.relayState)), /another login request/);
  await nobody('eve@acme.example');
});

test('an XML external entity is refused before anything is read', LIMIT, async () => {
  idp.signing = 'assertion';
  const login = await startLogin('acme-saml');
  const xml = unb64(await idp.respond(login.sp, login.id, { user: person('xxe', 'X', 'X') }));
  const xxe = `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY leak SYSTEM "file:///etc/passwd">]>${xml.replace('xxe@acme.example</saml:NameID>', '&leak;</saml:NameID>')}`;
  assert.match(await refusal(await postResponse('acme-saml', b64(xxe), login.relayState)), /DTD or entities/);
  await nobody('xxe@acme.example');
});

test('replays are refused: a Response posted twice, and an IdP-initiated one posted twice', LIMIT, async () => {
  idp.signing = 'assertion';
  const login = await startLogin('acme-saml');
  const answer = await idp.respond(login.sp, login.id, { user: person('rita', 'Rita', 'R') });
  const first = await postResponse('acme-saml', answer, login.relayState);
  assert.equal(first.status, 302);
  assert.ok(new URL(first.headers.get('location')).searchParams.get('code'), 'the first post logs in');
  const again = await postResponse('acme-saml', answer, login.relayState);
  assert.equal(again.status, 400);
  assert.match(await again.text(), /already completed/);

  // Unsolicited: accepted once for the connection that allows it, lands at the RP with a code.
  const sp = idp.spFrom(idp.spMetadata.get([...idp.spMetadata.keys()].find((k) => k.endsWith(':acme-saml-idp'))));
  const unsolicited = await idp.respond(sp, null, { user: person('ivo', 'Ivo', 'I') });
  const landed = await postResponse('acme-saml-idp', unsolicited);
  assert.equal(landed.status, 302, await landed.text());
  const to = new URL(landed.headers.get('location'));
  assert.equal(`${to.origin}${to.pathname}`, rp.redirectUri);
  assert.ok(to.searchParams.get('code'), to.href);
  assert.match(await refusal(await postResponse('acme-saml-idp', unsolicited)), /used before/);
  // A connection that does not allow IdP-initiated logins refuses it outright.
  const refused = await postResponse('acme-saml', await idp.respond(login.sp, null, { user: person('ivo', 'Ivo', 'I') }));
  assert.equal(refused.status, 400);
  assert.match(await refused.text(), /IdP-initiated login is off/);
});

test('the groups a SAML login brings map to a role whose permission is in the access token', LIMIT, async () => {
  const s = gh.server;
  await s.management('POST', '/api/v2/resource-servers', {
    name: 'Reports', identifier: API, enforce_policies: true, token_dialect: 'access_token_authz',
    scopes: [{ value: 'read:reports', description: 'Read reports' }],
  }, 201);
  const role = await s.management('POST', '/api/v2/roles', { name: 'Report readers' }, 200);
  await s.management('POST', `/api/v2/roles/${role.id}/permissions`, { permissions: [{ resource_server_identifier: API, permission_name: 'read:reports' }] }, 201);
  const group = await s.management('POST', '/api/v2/groups', { name: 'engineering-staff' }, 201);
  await s.management('POST', `/api/v2/groups/${group.id}/roles`, { roles: [role.id] }, 204);
  await s.management('POST', `/api/v2/groups/${group.id}/mappings`, { mappings: [{ groupName: 'Engineering', connectionName: 'acme-saml' }] }, 200);

  idp.signing = 'assertion';
  const login = await startLogin('acme-saml', { audience: API });
  const answer = await idp.respond(login.sp, login.id, { user: person('grace', 'Grace', 'Hopper', ['Engineering']) });
  const back = await postResponse('acme-saml', answer, login.relayState);
  assert.equal(back.status, 302, await back.text());
  const code = new URL(back.headers.get('location')).searchParams.get('code');
  assert.ok(code, back.headers.get('location'));
  const tokens = await fetch(`${s.baseUrl}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'authorization_code', client_id: application.client_id, client_secret: application.client_secret, code, redirect_uri: rp.redirectUri }),
  }).then((r) => r.json());
  assert.ok(tokens.access_token, JSON.stringify(tokens));
  const payload = JSON.parse(Buffer.from(tokens.access_token.split('.')[1], 'base64url').toString('utf8'));
  assert.deepEqual(payload.permissions, ['read:reports'], JSON.stringify(payload));
});
