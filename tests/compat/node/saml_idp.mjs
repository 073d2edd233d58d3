// A SAML 2.0 identity provider for the tests, built on samlify (an independent
// implementation: its XML signatures come from xml-crypto), serving both request bindings
// on its own node:http server at http://localhost:<port>:
//   GET  /sso  (HTTP-Redirect)  and  POST /sso  (HTTP-POST)
// Each reads Gatehouse's AuthnRequest and answers a page that posts a signed Response
// (signed response, signed assertion, or both: `signing`) to the request's consumer.
// `respond()` makes a Response for a request without a browser, for the refusal tests.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import samlifyModule from 'samlify';

const samlify = samlifyModule;

// Gatehouse does the schema-level checks that matter on its side; the test IdP only writes.
samlify.setSchemaValidator({ validate: () => Promise.resolve('skipped') });

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A fresh RSA key and self-signed certificate, as an IdP administrator would make. */
export function keyAndCertificate(cn = 'Test IdP') {
  const dir = mkdtempSync(join(tmpdir(), 'saml-idp-'));
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2',
    '-subj', `/CN=${cn}`, '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { privateKey: readFileSync(key, 'utf8'), certificate: readFileSync(cert, 'utf8') };
}

export class SamlIdp {
  /**
   * @param {object} o
   * @param {{email:string, name:string, given:string, family:string, groups:string[]}} o.user
   * @param {'response'|'assertion'|'both'} [o.signing]
   */
  constructor({ user, signing = 'assertion', keys = keyAndCertificate() }) {
    this.user = user;
    this.signing = signing;
    this.keys = keys;
    this.requests = []; // the AuthnRequests received: {binding, id, xml}
    this.answered = []; // the SAMLResponses its pages posted
    this.sessions = []; // {email, sessionIndex} of every assertion made
    this.logoutRequests = []; // {nameId, sessionIndex, issuer} of the LogoutRequests received
    this.spMetadata = new Map(); // entity id -> Gatehouse's SP metadata XML, set by the test
  }

  async start() {
    this.server = createServer((req, res) => this.handle(req, res).catch((e) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(e?.stack || e));
    }));
    await new Promise((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://localhost:${this.server.address().port}`;
    this.idp = this.makeIdp(this.signing);
    return this;
  }

  stop() { this.server?.close(); }

  makeIdp(signing) {
    return samlify.IdentityProvider({
      entityID: `${this.url}/metadata`,
      privateKey: this.keys.privateKey,
      signingCert: this.keys.certificate,
      isAssertionEncrypted: false,
      wantAuthnRequestsSigned: false,
      messageSigningOrder: 'sign-then-encrypt',
      signatureConfig: { prefix: 'ds', location: { reference: "/*[local-name(.)='Response']/*[local-name(.)='Issuer']", action: 'after' } },
      singleSignOnService: [
        { Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: `${this.url}/sso` },
        { Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', Location: `${this.url}/sso` },
      ],
      singleLogoutService: [
        { Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: `${this.url}/slo` },
      ],
      nameIDFormat: ['urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'],
      loginResponseTemplate: {
        context: samlify.SamlLib.defaultLoginResponseTemplate.context,
        attributes: [
          { name: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress', valueTag: 'email', nameFormat: 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri', valueXsiType: 'xs:string' },
          { name: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname', valueTag: 'given', nameFormat: 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri', valueXsiType: 'xs:string' },
          { name: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname', valueTag: 'family', nameFormat: 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri', valueXsiType: 'xs:string' },
          { name: 'http://schemas.xmlsoap.org/claims/Group', valueTag: 'groups', nameFormat: 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri', valueXsiType: 'xs:string' },
        ],
      },
    });
  }

  /** The IdP's metadata XML (what an administrator would upload to Gatehouse). */
  metadata() { return this.idp.getMetadata(); }

  /** samlify's view of Gatehouse as a service provider, from Gatehouse's SP metadata. */
  spFrom(metadataXml, signing = this.signing) {
    // samlify signs the assertion when the SP's metadata asks for it.
    const asked = signing === 'response'
      ? metadataXml.replace('WantAssertionsSigned="true"', 'WantAssertionsSigned="false"')
      : metadataXml;
    const sp = samlify.ServiceProvider({
      metadata: asked,
      wantAssertionsSigned: signing !== 'response',
      wantMessageSigned: signing !== 'assertion',
    });
    sp.metadataXml = metadataXml;
    return sp;
  }

  /**
   * A signed Response (base64) answering `requestId`, for `sp`; `tweak(xmlTemplate)` may
   * rewrite the filled template before it is signed (times, audience).
   */
  /** GET /slo: a LogoutRequest (HTTP-Redirect); answers Success at the SP's logout URL. */
  logout(url, res) {
    const xml = inflateRawSync(Buffer.from(url.searchParams.get('SAMLRequest'), 'base64')).toString('utf8');
    const grab = (re) => re.exec(xml)?.[1];
    const issuer = grab(/<saml:Issuer>([^<]*)<\/saml:Issuer>/);
    const request = {
      id: grab(/ID="([^"]+)"/),
      issuer,
      nameId: grab(/<saml:NameID[^>]*>([^<]*)<\/saml:NameID>/),
      sessionIndex: grab(/<samlp:SessionIndex>([^<]*)<\/samlp:SessionIndex>/),
      signed: url.searchParams.has('Signature'),
    };
    this.logoutRequests.push(request);
    const metadata = this.spMetadata.get(issuer) ?? '';
    const slo = /SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="([^"]+)"/.exec(metadata)?.[1];
    const answer = `<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_lr${Date.now()}" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${slo}" InResponseTo="${request.id}"><saml:Issuer>${this.url}/metadata</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>`;
    const q = new URLSearchParams({
      SAMLResponse: deflateRawSync(Buffer.from(answer, 'utf8')).toString('base64'),
      RelayState: url.searchParams.get('RelayState') ?? '',
    });
    res.writeHead(302, { location: `${slo}?${q}` });
    res.end();
  }

  async respond(sp, requestId, { user = this.user, tweak = (v) => v, signing = this.signing } = {}) {
    const idp = signing === this.signing ? this.idp : this.makeIdp(signing);
    const signer = signing === this.signing ? sp : this.spFrom(sp.metadataXml, signing);
    const requestInfo = { extract: { request: { id: requestId ?? '' } } };
    const result = await idp.createLoginResponse(signer, requestInfo, 'post', { email: user.email },
      (template) => this.fill(idp, signer, requestId, user, template, tweak));
    return result.context;
  }

  /** Fills samlify's template the way samlify does, then lets the test change it. */
  fill(idp, sp, requestId, user, template, tweak) {
    const now = new Date();
    const fiveMin = new Date(now.getTime() + 5 * 60 * 1000);
    const id = `_${Math.random().toString(36).slice(2)}${Date.now()}`;
    const sessionIndex = `_s${Math.random().toString(36).slice(2)}`;
    this.sessions.push({ email: user.email, sessionIndex });
    const acs = sp.entityMeta.getAssertionConsumerService('post');
    const values = {
      ID: id,
      AssertionID: `_a${Math.random().toString(36).slice(2)}`,
      Destination: acs,
      Audience: sp.entityMeta.getEntityID(),
      EntityID: sp.entityMeta.getEntityID(),
      SubjectRecipient: acs,
      Issuer: idp.entityMeta.getEntityID(),
      IssueInstant: now.toISOString(),
      AssertionConsumerServiceURL: acs,
      StatusCode: 'urn:oasis:names:tc:SAML:2.0:status:Success',
      ConditionsNotBefore: now.toISOString(),
      ConditionsNotOnOrAfter: fiveMin.toISOString(),
      SubjectConfirmationDataNotOnOrAfter: fiveMin.toISOString(),
      NameIDFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
      NameID: user.email,
      InResponseTo: requestId ?? '',
      AuthnStatement: 'AUTHN-STATEMENT-GOES-HERE',
      // samlify escapes what it puts in the template.
      attrEmail: user.email,
      attrGiven: user.given,
      attrFamily: user.family,
      attrGroups: 'GROUPS-GO-HERE',
    };
    const changed = tweak(values);
    let xml = samlify.SamlLib.replaceTagsByValue(template, changed);
    // The statement carrying the IdP's session index (single logout names it back).
    xml = xml.replace('AUTHN-STATEMENT-GOES-HERE', `<saml:AuthnStatement AuthnInstant="${now.toISOString()}" SessionIndex="${sessionIndex}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`);
    // One AttributeValue per group, as IdPs send them.
    xml = xml.replace(/<saml:AttributeValue([^>]*)>GROUPS-GO-HERE<\/saml:AttributeValue>/,
      (_, attrs) => user.groups.map((g) => `<saml:AttributeValue${attrs}>${escapeHtml(g)}</saml:AttributeValue>`).join(''));
    return { id: changed.ID, context: xml };
  }

  async handle(req, res) {
    const url = new URL(req.url, this.url);
    if (url.pathname === '/slo') {
      this.logout(url, res);
      return;
    }
    if (url.pathname !== '/sso') {
      res.writeHead(404);
      res.end();
      return;
    }
    let binding;
    let request;
    let encoded;
    if (req.method === 'GET') {
      binding = 'redirect';
      request = { query: Object.fromEntries(url.searchParams), octetString: url.search.slice(1) };
      encoded = inflateRawSync(Buffer.from(request.query.SAMLRequest, 'base64')).toString('utf8');
    } else {
      binding = 'post';
      const body = await new Promise((r) => { let b = ''; req.on('data', (c) => { b += c; }); req.on('end', () => r(b)); });
      request = { body: Object.fromEntries(new URLSearchParams(body)) };
      encoded = Buffer.from(request.body.SAMLRequest, 'base64').toString('utf8');
    }
    // Which service provider asks: its Issuer names the metadata to answer with.
    const issuer = /<saml:Issuer>([^<]*)<\/saml:Issuer>/.exec(encoded)?.[1];
    const metadata = this.spMetadata.get(issuer);
    if (!metadata) throw new Error(`unknown service provider ${issuer}`);
    const sp = this.spFrom(metadata);
    const parsed = await this.idp.parseLoginRequest(sp, binding, request);
    const id = parsed.extract.request.id;
    this.requests.push({ binding, id, xml: parsed.samlContent });
    const relayState = binding === 'redirect' ? request.query.RelayState : request.body.RelayState;
    const samlResponse = await this.respond(sp, id);
    this.answered.push(samlResponse);
    const acs = parsed.extract.request.assertionConsumerServiceUrl;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>Test IdP</title><form id="f" method="post" action="${escapeHtml(acs)}">
<input type="hidden" name="SAMLResponse" value="${escapeHtml(samlResponse)}">
<input type="hidden" name="RelayState" value="${escapeHtml(relayState ?? '')}">
<button type="submit">Continue to the application</button></form>`);
  }
}
