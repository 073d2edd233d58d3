// Proves that Gatehouse's upstream connections (Auth0's `oidc` strategy) work
// end to end in a real browser (Debian's Chromium, headless, driven by
// playwright-core) against a real, certified OpenID Connect provider:
// panva's `oidc-provider`, running in this process on 127.0.0.1 with its
// development login and consent pages. The relying party (openid-client,
// relying_party.mjs) asks Gatehouse for `connection=acme-sso`; the browser
// lands on the provider's login page, signs in as "Zoë Ångström", consents,
// comes back through Gatehouse's /login/callback (state, code exchange with
// client_secret_post and PKCE, the provider's RS256 ID token checked against its
// JWKS, userinfo) to the RP, whose library verifies Gatehouse's own ID token
// (`sub` oidc|acme-sso|<login>, the email). The Management API then shows the
// user with identities[0] {provider: oidc, connection: acme-sso, isSocial: false}
// and the provider's profile. Also:
//
// * the hosted login page (no `connection=`) shows "Continue with Acme Staff",
//   which completes the same login;
// * cancelling at the provider (its `/interaction/:uid/abort` link) brings the
//   RP back `error=access_denied`, with its state;
// * a claim named in the connection's `options.non_persistent_attrs`
//   (`https://acme.example/temporary_idtoken`) is in the ID token the RP gets
//   from Gatehouse, but not in the user the Management API returns (through
//   acme-sso, which has no deny list, the same claim is kept: the control).
//
// With GATEHOUSE_TEST_DATABASE_URL set (a PostgreSQL server) the same file runs
// on a fresh PostgreSQL database (see gatehouse.mjs).

import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { after, test } from 'node:test';
import Provider from 'oidc-provider';
import { chromium } from 'playwright-core';
import { useGatehouse } from './gatehouse.mjs';
import { RelyingParty } from './relying_party.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const LIMIT = { timeout: 120_000 }; // per test: a hang fails instead of stalling CI
const TEMPORARY = 'https://acme.example/temporary_idtoken'; // deny-listed on acme-private
const PROVIDER_CLIENT = { id: 'gh-client', secret: randomBytes(32).toString('hex') };

/** The provider's people: the login typed on its page is the account id (and `sub`). */
const ACCOUNTS = {
  zoe: {
    name: 'Zoë Ångström',
    given_name: 'Zoë',
    family_name: 'Ångström',
    nickname: 'zoë',
    picture: 'https://acme.example/people/zoe.png',
    email: 'zoe.angstrom@example.org',
    email_verified: true,
  },
  bjorn: {
    name: 'Björn Þórsson',
    given_name: 'Björn',
    family_name: 'Þórsson',
    nickname: 'bjössi',
    email: 'bjorn.thorsson@example.org',
    email_verified: true,
  },
  ebba: {
    name: 'Ebba Holm',
    given_name: 'Ebba',
    family_name: 'Holm',
    email: 'ebba.holm@example.org',
    email_verified: true,
    [TEMPORARY]: 'tmp-Ω-4711',
  },
};

// -- the upstream provider: oidc-provider on 127.0.0.1, a random port --------------

/** Listen first (the issuer needs the port), then hand requests to the provider. */
async function startProvider(gatehouseCallback) {
  const http = createServer();
  await new Promise((ok) => http.listen(0, '127.0.0.1', ok));
  const issuer = `http://127.0.0.1:${http.address().port}`;
  const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const provider = new Provider(issuer, {
    clients: [{
      client_id: PROVIDER_CLIENT.id,
      client_secret: PROVIDER_CLIENT.secret,
      redirect_uris: [gatehouseCallback],
      token_endpoint_auth_method: 'client_secret_post',
    }],
    async findAccount(ctx, id) {
      if (!Object.hasOwn(ACCOUNTS, id)) return undefined;
      return { accountId: id, async claims() { return { sub: id, ...ACCOUNTS[id] }; } };
    },
    claims: {
      openid: ['sub', TEMPORARY],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'nickname', 'picture'],
    },
    conformIdTokenClaims: false, // the ID token carries the scopes' claims, not only userinfo
    cookies: { keys: [randomBytes(32).toString('hex')] },
    jwks: { keys: [{ ...key, kid: 'acme-1', alg: 'RS256', use: 'sig' }] },
    ttl: { Interaction: 600, Session: 600, Grant: 600, AccessToken: 600, IdToken: 600 }, // seconds
  });
  http.on('request', provider.callback());
  return { issuer, close: () => new Promise((ok) => { http.closeAllConnections(); http.close(ok); }) };
}

// -- setup: Gatehouse, the RP's application, the provider, two connections ---------

const rp = await new RelyingParty().start();
let provider;
let browser;

const gh = useGatehouse(async (server) => {
  const application = await server.createClient({
    name: 'Node RP',
    app_type: 'regular_web',
    callbacks: [rp.redirectUri],
  });
  await rp.connect(server, application);
  provider = await startProvider(`${server.baseUrl}/login/callback`);
  const options = {
    type: 'back_channel',
    discovery_url: `${provider.issuer}/.well-known/openid-configuration`,
    client_id: PROVIDER_CLIENT.id,
    client_secret: PROVIDER_CLIENT.secret,
    scope: 'openid profile email',
  };
  await server.createConnection({
    name: 'acme-sso',
    display_name: 'Acme Staff',
    strategy: 'oidc',
    enabled_clients: [application.client_id],
    options,
  });
  await server.createConnection({
    name: 'acme-private',
    display_name: 'Acme Contractors',
    strategy: 'oidc',
    enabled_clients: [application.client_id],
    options: { ...options, non_persistent_attrs: [TEMPORARY] },
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
});

after(async () => {
  await browser?.close();
  await provider?.close();
  await rp.close();
});

// -- helpers -----------------------------------------------------------------------

/** A fresh browser (no cookies, at Gatehouse or at the provider) with one page. */
async function freshPage() {
  const context = await browser.newContext({ viewport: { width: 480, height: 520 } });
  return { context, page: await context.newPage() };
}

/** Wait for the provider's login page (its dev interaction `/interaction/:uid`). */
async function atProviderLogin(page) {
  await page.waitForURL((u) => u.origin === provider.issuer && u.pathname.startsWith('/interaction/'));
  await page.locator('input[name=login]').waitFor();
}

/** On the provider's pages: sign in as `login` (any password), then consent; waits for the RP. */
async function signInAtProvider(page, login) {
  await atProviderLogin(page);
  await page.locator('input[name=login]').fill(login);
  await page.locator('input[name=password]').fill('any password will do');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  // The consent page (same path, a new page): its button appears once it is shown.
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL(`${rp.redirectUri}?**`);
}

/** The claims of the ID token the RP's library verified, from its callback page. */
async function rpClaims(page) {
  const sub = await page.locator('#sub').textContent({ timeout: 5_000 }).catch(() => null);
  assert.ok(sub, `the RP did not sign in: ${await page.content()}`);
  return JSON.parse(await page.locator('#claims').textContent());
}

// -- the journeys ------------------------------------------------------------------

test('connection=acme-sso: sign in at the provider, back through Gatehouse to the RP', LIMIT, async () => {
  const { context, page } = await freshPage();
  await page.goto(`${rp.baseUrl}/login?connection=acme-sso`);
  await signInAtProvider(page, 'zoe');

  // The RP's library verified Gatehouse's ID token (JWKS signature, iss, aud, exp, nonce).
  const claims = await rpClaims(page);
  assert.equal(claims.sub, 'oidc|acme-sso|zoe');
  assert.equal(claims.email, 'zoe.angstrom@example.org');
  assert.equal(claims.email_verified, true);
  assert.equal(claims.name, 'Zoë Ångström');
  assert.equal(await page.locator('#email').textContent(), 'zoe.angstrom@example.org');

  // The Management API shows the user, its upstream identity and the provider's profile.
  const user = await gh.server.user('oidc|acme-sso|zoe');
  assert.equal(user.user_id, 'oidc|acme-sso|zoe');
  assert.equal(user.identities?.length, 1, JSON.stringify(user));
  const { provider: idp, connection, isSocial, user_id: identityId } = user.identities[0];
  assert.deepEqual(
    { provider: idp, connection, isSocial, user_id: identityId },
    { provider: 'oidc', connection: 'acme-sso', isSocial: false, user_id: 'acme-sso|zoe' },
  );
  for (const [field, value] of Object.entries(ACCOUNTS.zoe)) {
    assert.deepEqual(user[field], value, `${field} in ${JSON.stringify(user)}`);
  }
  await context.close();
});

test('the hosted login page offers "Continue with Acme Staff", which signs in the same way', LIMIT, async () => {
  const { context, page } = await freshPage();
  await page.goto(`${rp.baseUrl}/login`);
  assert.equal(new URL(page.url()).pathname, '/u/login');
  await page.getByRole('link', { name: 'Continue with Acme Staff' }).click();
  await signInAtProvider(page, 'bjorn');

  const claims = await rpClaims(page);
  assert.equal(claims.sub, 'oidc|acme-sso|bjorn');
  assert.equal(claims.email, 'bjorn.thorsson@example.org');
  assert.equal(claims.name, 'Björn Þórsson');
  const user = await gh.server.user('oidc|acme-sso|bjorn');
  assert.equal(user.identities?.[0]?.connection, 'acme-sso', JSON.stringify(user));
  assert.equal(user.given_name, 'Björn');
  await context.close();
});

test('cancelling at the provider brings the RP back error=access_denied', LIMIT, async () => {
  const { context, page } = await freshPage();
  await page.goto(`${rp.baseUrl}/login?connection=acme-sso`);
  await atProviderLogin(page);
  await page.getByRole('link', { name: '[ Cancel ]' }).click(); // /interaction/:uid/abort
  await page.waitForURL(`${rp.redirectUri}?**`);
  // The RP's library checked the state before reading the error.
  const error = await page.locator('#error').textContent({ timeout: 5_000 }).catch(() => null);
  assert.equal(error, 'access_denied', await page.content());
  await context.close();
});

test('a deny-listed claim reaches the RP\'s ID token but is not stored', LIMIT, async () => {
  const { context, page } = await freshPage();
  await page.goto(`${rp.baseUrl}/login?connection=acme-private`);
  await signInAtProvider(page, 'ebba');

  const claims = await rpClaims(page);
  assert.equal(claims.sub, 'oidc|acme-private|ebba');
  assert.equal(claims[TEMPORARY], 'tmp-Ω-4711', JSON.stringify(claims));

  const user = await gh.server.user('oidc|acme-private|ebba');
  assert.equal(user.email, 'ebba.holm@example.org'); // the user was stored, from this login
  const stored = JSON.stringify(user);
  assert.ok(!stored.includes(TEMPORARY) && !stored.includes('tmp-Ω-4711'), stored);
  await context.close();

  // The control: through acme-sso (no deny list) the same claim is kept with the user.
  const again = await freshPage();
  await again.page.goto(`${rp.baseUrl}/login?connection=acme-sso`);
  await signInAtProvider(again.page, 'ebba');
  assert.equal((await rpClaims(again.page)).sub, 'oidc|acme-sso|ebba');
  const kept = JSON.stringify(await gh.server.user('oidc|acme-sso|ebba'));
  assert.ok(kept.includes('tmp-Ω-4711'), kept);
  await again.context.close();
});
