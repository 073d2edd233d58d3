// A tiny relying party for the browser tests: `node:http` on 127.0.0.1 (random
// port) using openid-client. GET /login starts the authorization-code flow (PKCE
// S256, state, nonce) and sends the browser to Gatehouse; `screen_hint` and
// `connection` query parameters are passed on (`/login?screen_hint=signup` opens
// the sign-up page, `/login?connection=NAME` goes straight to that connection's
// upstream provider). GET /callback exchanges the code, has the library verify
// the ID token (signature via JWKS, iss, aud, exp, nonce) and shows its `sub`,
// `email` and `email_verified` claims as `#sub`, `#email` and `#email_verified`
// and all its claims as JSON in `#claims`. An error answer (e.g.
// `error=access_denied`), checked by the library against the state sent, is
// shown as `#error` and `#error_description`.

import { createServer } from 'node:http';
import * as client from 'openid-client';

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export class RelyingParty {
  config = null; // openid-client Configuration, set by `connect`
  #pending = new Map(); // state -> { verifier, nonce }
  #server = null;

  /** Listen on a free port; resolves with this. `redirectUri` is known from then on. */
  async start() {
    this.#server = createServer((req, res) => {
      this.#handle(new URL(req.url, this.baseUrl), res).catch((err) => {
        res.writeHead(500, { 'content-type': 'text/plain' })
          .end(`RP error: ${err.stack}\n${JSON.stringify(err.cause ?? null)}`);
      });
    });
    await new Promise((ok) => this.#server.listen(0, '127.0.0.1', ok));
    this.baseUrl = `http://127.0.0.1:${this.#server.address().port}`;
    this.redirectUri = `${this.baseUrl}/callback`;
    return this;
  }

  /** Discover `gatehouse` and use `application` (a confidential client: secret posted). */
  async connect(gatehouse, application) {
    this.config = await client.discovery(new URL(gatehouse.issuer), application.client_id, undefined,
      client.ClientSecretPost(application.client_secret), { execute: [client.allowInsecureRequests] });
  }

  close() {
    return new Promise((ok) => this.#server.close(ok));
  }

  async #handle(url, res) {
    if (url.pathname === '/login') {
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      this.#pending.set(state, { verifier, nonce });
      const extra = {};
      for (const name of ['screen_hint', 'connection']) {
        if (url.searchParams.has(name)) extra[name] = url.searchParams.get(name);
      }
      const target = client.buildAuthorizationUrl(this.config, {
        redirect_uri: this.redirectUri,
        scope: 'openid profile email',
        state,
        nonce,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        ...extra,
      });
      res.writeHead(302, { location: target.href }).end();
    } else if (url.pathname === '/callback') {
      const state = url.searchParams.get('state');
      const pending = this.#pending.get(state);
      this.#pending.delete(state);
      if (!pending) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end('unknown state');
        return;
      }
      let tokens;
      try {
        tokens = await client.authorizationCodeGrant(this.config, url, {
          pkceCodeVerifier: pending.verifier,
          expectedState: state,
          expectedNonce: pending.nonce,
          idTokenExpected: true,
        });
      } catch (err) {
        if (!(err instanceof client.AuthorizationResponseError)) throw err;
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(
          '<!doctype html><title>Not signed in</title><h1>Not signed in</h1>'
          + `<p id="error">${escapeHtml(err.error)}</p>`
          + `<p id="error_description">${escapeHtml(err.error_description ?? '')}</p>`);
        return;
      }
      const claims = tokens.claims(); // verified: signature (JWKS), iss, aud, exp, nonce
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(
        '<!doctype html><title>Signed in</title><h1>Signed in</h1>'
        + `<p id="sub">${escapeHtml(claims.sub)}</p>`
        + `<p id="email">${escapeHtml(claims.email)}</p>`
        + `<p id="email_verified">${escapeHtml(claims.email_verified)}</p>`
        + `<pre id="claims">${escapeHtml(JSON.stringify(claims))}</pre>`);
    } else {
      res.writeHead(404).end();
    }
  }
}
