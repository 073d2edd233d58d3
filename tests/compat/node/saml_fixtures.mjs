// Regenerates crates/saml/tests/fixtures: Responses from samlify for the SAML crate's own
// tests (run from this folder: node saml_fixtures.mjs ../../../crates/saml/tests/fixtures).
import { SamlIdp } from './saml_idp.mjs';
import { writeFileSync } from 'node:fs';
const out = process.argv[2];
const idp = await new SamlIdp({ user: { email: 'zoë.ünïcode@example.com', given: 'Zoë', family: 'Ünïcode', groups: ['Engineering', 'All Hands'] } }).start();
const acs = 'https://gatehouse.test/login/callback?connection=acme-saml';
const md = `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="urn:auth0:gatehouse:acme-saml"><md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="false" WantAssertionsSigned="true"><md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${acs.replace('&','&amp;')}" index="0"/></md:SPSSODescriptor></md:EntityDescriptor>`;
for (const signing of ['assertion', 'response', 'both']) {
  const sp = idp.spFrom(md, signing);
  const r = await idp.respond(sp, '_req-7f3a', { signing });
  writeFileSync(`${out}/response-signed-${signing}.b64`, r + '\n');
}
const sp = idp.spFrom(md, 'assertion');
writeFileSync(`${out}/response-unsolicited.b64`, (await idp.respond(sp, null)) + '\n');
writeFileSync(`${out}/idp-cert.pem`, idp.keys.certificate);
writeFileSync(`${out}/idp-metadata.xml`, idp.metadata());
writeFileSync(`${out}/generated-at.txt`, new Date().toISOString() + '\n');
idp.stop();
