// Proves that openid-client (panva, v6), with its ID-token signature checks turned on
// (`enableNonRepudiationChecks`: the key is taken from the JWKS, by `kid` and type),
// keeps verifying ID tokens across signing-key rotations of the real Gatehouse binary:
// after one rotation the new signing key was already in the JWKS it holds (Gatehouse
// publishes the next key before it signs), and after another the library fetches the
// JWKS again when it meets the unknown `kid`. It also verifies a PS256 ID token with the
// same RSA key, which a JWK naming `"alg":"RS256"` would have refused.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as client from 'openid-client';
import { PASSWORD, useGatehouse } from './gatehouse.mjs';

const LIMIT = { timeout: 60_000 };
const EMAIL = 'rotación@example.com';

let jwksFetches = 0;

/** A relying party for `application`, checking ID-token signatures, counting JWKS fetches. */
async function relyingParty(server, application, metadata = {}) {
  const config = await client.discovery(new URL(server.issuer), application.client_id, metadata,
    client.ClientSecretPost(application.client_secret), { execute: [client.allowInsecureRequests] });
  client.enableNonRepudiationChecks(config);
  config[client.customFetch] = (url, options) => {
    if (new URL(url).pathname === '/.well-known/jwks.json') jwksFetches += 1;
    return fetch(url, options);
  };
  return config;
}

/** A password-grant token response whose ID token the library has checked. */
async function logIn(config) {
  const tokens = await client.genericGrantRequest(config, 'password', {
    username: EMAIL, password: PASSWORD, scope: 'openid email',
  });
  assert.equal(tokens.claims().email, EMAIL);
  return tokens;
}

const header = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString());

async function management(server, method, path) {
  const res = await fetch(server.baseUrl + path, {
    method, headers: { authorization: `Bearer ${await server.managementToken()}` },
  });
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${await res.clone().text()}`);
  return res.json();
}

let apps;
const gh = useGatehouse(async (server) => {
  const fields = { app_type: 'regular_web', grant_types: ['password'] };
  apps = {
    rs: await server.createClient({ name: 'Rotating RP', ...fields }),
    ps: await server.createClient({ name: 'PS256 RP', jwt_configuration: { alg: 'PS256' }, ...fields }),
  };
  await server.createUser(EMAIL);
});

test('openid-client verifies ID tokens across rotations, fetching the JWKS again for an unknown kid', LIMIT, async (t) => {
  const config = await relyingParty(gh.server, apps.rs);
  const first = await logIn(config);
  assert.equal(jwksFetches, 1, 'the JWKS fetched for the first signature');
  const k1 = header(first.id_token).kid;

  const rotated = await management(gh.server, 'POST', '/api/v2/keys/signing/rotate');
  const second = await logIn(config);
  const k2 = header(second.id_token).kid;
  assert.notEqual(k2, k1, 'signed by the new key');
  assert.equal(k2, rotated.kid);
  assert.equal(jwksFetches, 1, 'the new key was already published as the next one');

  await management(gh.server, 'POST', '/api/v2/keys/signing/rotate');
  // oauth4webapi refetches a JWKS for an unknown kid only once its copy is a minute old.
  const realNow = Date.now;
  t.after(() => { Date.now = realNow; });
  Date.now = () => realNow() + 61_000;
  const third = await logIn(config);
  assert.notEqual(header(third.id_token).kid, k2);
  assert.equal(jwksFetches, 2, 'the JWKS fetched again for the unknown kid');
});

test('openid-client verifies a PS256 ID token with the same RSA key', LIMIT, async () => {
  const config = await relyingParty(gh.server, apps.ps, { id_token_signed_response_alg: 'PS256' });
  const tokens = await logIn(config);
  assert.equal(header(tokens.id_token).alg, 'PS256');
  const jwks = await (await fetch(`${gh.server.baseUrl}/.well-known/jwks.json`)).json();
  const key = jwks.keys.find((k) => k.kid === header(tokens.id_token).kid);
  assert.equal(key.kty, 'RSA');
  assert.equal(key.alg, undefined, 'no alg on RSA keys, so PS256 may use them');
});
