// Proves that the hosted account pages work for a person in a real browser
// (Debian's Chromium, headless, driven by playwright-core), with the emails
// Gatehouse sends read from a real SMTP listener (smtp.mjs):
//
// * sign-up: the RP (openid-client, `screen_hint=signup`) opens the hosted
//   sign-up page; a weak password is refused with PasswordStrengthError; a good
//   one creates the account and lands on the RP with a verified ID token
//   (email_verified false); the emailed verification link verifies the address
//   once (the Management API then shows email_verified true) and is refused the
//   second time;
// * password reset: /dbconnections/change_password emails a reset link; the
//   hosted reset page refuses mismatched and weak passwords and accepts a good
//   one; a "password was changed" notice follows; the link is then dead, the old
//   password fails on the hosted login page and the new one signs in to the RP;
// * forgot password: the hosted login page's "Forgot password?" opens the reset
//   request page (headed by the tenant's name), which emails a reset link; once
//   the new password is set, "Back to login" returns to the RP's login, where the
//   new password signs in and the RP gets its code.
//
// It saves screenshots of the pages to docs/screenshots/signup.png,
// docs/screenshots/reset.png and docs/screenshots/forgot-password.png.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { chromium } from 'playwright-core';
import { PASSWORD, REPO_ROOT, useGatehouse } from './gatehouse.mjs';
import { RelyingParty } from './relying_party.mjs';
import { SmtpServer } from './smtp.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SCREENSHOTS = join(REPO_ROOT, 'docs', 'screenshots');
const CONNECTION = 'Username-Password-Authentication';
const SIGNUP_EMAIL = 'new-user@example.com';
const RESET_EMAIL = 'forgetful@example.com';
const NEW_PASSWORD = 'N3w-passw0rd!';
const LIMIT = { timeout: 120_000 }; // per test: a hang fails instead of stalling CI

// -- setup: an SMTP listener, Gatehouse sending to it, the RP, the browser ---------

const smtp = await new SmtpServer().start();
const rp = await new RelyingParty().start();
let browser;

const gh = useGatehouse(async (server) => {
  const application = await server.createClient({
    name: 'Node RP',
    app_type: 'regular_web',
    callbacks: [rp.redirectUri],
  });
  await rp.connect(server, application);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
}, { env: { GATEHOUSE_SMTP_URL: smtp.url, GATEHOUSE_MAIL_POLL_MS: '100' } });

after(async () => {
  await browser?.close();
  await rp.close();
  await smtp.close();
});

// -- helpers -----------------------------------------------------------------------

/** A fresh browser (no cookies) with one page, sized as in the login test. */
async function freshPage() {
  const context = await browser.newContext({ viewport: { width: 480, height: 520 } });
  return { context, page: await context.newPage() };
}

/** Fill `fields` ({ selector: value }) and press the button; once the page that follows is shown,
 *  resolve with the response to the POST to `path`. */
async function submitForm(page, path, fields, button) {
  for (const [selector, value] of Object.entries(fields)) await page.locator(selector).fill(value);
  const posted = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === path);
  const shown = page.waitForEvent('framenavigated', (frame) => frame === page.mainFrame()); // after any redirects
  await page.getByRole('button', { name: button }).click();
  const response = await posted;
  await shown;
  await page.waitForLoadState();
  return response;
}

const errorText = async (page) => (await page.locator('#error').textContent()).trim();
/** The text of a message page (a heading and one paragraph). */
const messageText = async (page) => (await page.locator('main p').textContent()).trim();

async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, name) });
}

/** Messages to `address` only. */
const to = (address) => (mail) => mail.to.includes(address);

/** Open an emailed link; the page is left on what it shows. */
async function openLink(page, link, status) {
  const response = await page.goto(link);
  assert.equal(response.status(), status, `${link}\n${await page.content()}`);
}

// -- the journeys -------------------------------------------------------------------

test('sign up on the hosted page, then verify the email with the emailed link', LIMIT, async () => {
  const { context, page } = await freshPage();

  // The RP asks for the sign-up screen.
  await page.goto(`${rp.baseUrl}/login?screen_hint=signup`);
  assert.equal(new URL(page.url()).pathname, '/u/signup');
  assert.equal(await page.title(), 'Sign up');
  await screenshot(page, 'signup.png');

  // A weak password: the form comes back with the policy's error and the email kept.
  const weak = await submitForm(page, '/u/signup', { '#email': SIGNUP_EMAIL, '#password': 'short' }, 'Continue');
  assert.equal(weak.status(), 400);
  assert.match(await errorText(page), /PasswordStrengthError/);
  assert.equal(await page.locator('#email').inputValue(), SIGNUP_EMAIL);

  // A good one: signed up and signed in, back on the RP with a verified ID token.
  await submitForm(page, '/u/signup', { '#email': SIGNUP_EMAIL, '#password': PASSWORD }, 'Continue');
  await page.waitForURL(`${rp.redirectUri}?**`);
  assert.equal(await page.locator('#email').textContent(), SIGNUP_EMAIL, await page.content());
  assert.equal(await page.locator('#email_verified').textContent(), 'false');

  // The verification email arrives over SMTP; its link (same in the text and HTML parts) works once.
  const [mail] = await smtp.waitFor(1, to(SIGNUP_EMAIL));
  assert.deepEqual(mail.to, [SIGNUP_EMAIL]);
  assert.match(mail.subject, /^Verify your email/);
  const link = mail.link('/lo/verify_email');
  assert.ok(link.startsWith(`${gh.server.baseUrl}/lo/verify_email?ticket=`), link);

  await openLink(page, link, 200);
  assert.equal(await messageText(page), 'Your email address is verified.');
  const [user] = await gh.server.usersByEmail(SIGNUP_EMAIL);
  assert.equal(user.email_verified, true);

  await openLink(page, link, 400);
  assert.match(await messageText(page), /^This link was already used\./);

  await context.close();
});

test('reset a forgotten password with the emailed link, then log in with the new one', LIMIT, async () => {
  await gh.server.createUser(RESET_EMAIL, PASSWORD, { email_verified: true }); // no verification email

  // The application asks for a reset email, as Auth0's SDKs do.
  const asked = await fetch(`${gh.server.baseUrl}/dbconnections/change_password`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_id: rp.config.clientMetadata().client_id, email: RESET_EMAIL, connection: CONNECTION }),
  });
  assert.equal(asked.status, 200);
  assert.equal(await asked.text(), "We've just sent you an email to reset your password.");

  const [resetMail] = await smtp.waitFor(1, to(RESET_EMAIL));
  assert.match(resetMail.subject, /^Reset your .*password/);
  const link = resetMail.link('/lo/reset');
  assert.ok(link.startsWith(`${gh.server.baseUrl}/lo/reset?ticket=`), link);

  // The link opens the hosted reset page (in a browser without a session).
  const { context, page } = await freshPage();
  await openLink(page, link, 200);
  assert.equal(await page.title(), 'Change your password');
  assert.match(await page.locator('main').textContent(), new RegExp(`for ${RESET_EMAIL}`));
  await screenshot(page, 'reset.png');

  // Two different passwords, then a weak one: the form comes back with the reason.
  const mismatch = await submitForm(page, '/lo/reset', { '#password': NEW_PASSWORD, '#confirm': `${NEW_PASSWORD}x` }, 'Change password');
  assert.equal(mismatch.status(), 400);
  assert.equal(await errorText(page), 'The passwords do not match.');
  const weak = await submitForm(page, '/lo/reset', { '#password': 'short', '#confirm': 'short' }, 'Change password');
  assert.equal(weak.status(), 400);
  assert.match(await errorText(page), /PasswordStrengthError/);

  // A good one is set.
  const changed = await submitForm(page, '/lo/reset', { '#password': NEW_PASSWORD, '#confirm': NEW_PASSWORD }, 'Change password');
  assert.equal(changed.status(), 200, await page.content());
  assert.equal(await messageText(page), 'Your password was changed. You can now log in with it.');

  // The notice follows the reset email, and nothing else was sent to this address.
  const mails = await smtp.waitFor(2, to(RESET_EMAIL));
  assert.equal(mails.length, 2, mails.map((m) => m.subject).join('\n'));
  assert.match(mails[1].subject, /password was changed/);

  // The link is used up.
  await openLink(page, link, 400);
  assert.match(await messageText(page), /^This link was already used\./);

  // The old password no longer works on the hosted login page; the new one does.
  await page.goto(`${rp.baseUrl}/login`);
  assert.equal(new URL(page.url()).pathname, '/u/login');
  const old = await submitForm(page, '/u/login', { '#username': RESET_EMAIL, '#password': PASSWORD }, 'Continue');
  assert.equal(old.status(), 400);
  assert.equal(await errorText(page), 'Wrong email or password.');
  await submitForm(page, '/u/login', { '#username': RESET_EMAIL, '#password': NEW_PASSWORD }, 'Continue');
  await page.waitForURL(`${rp.redirectUri}?**`);
  assert.equal(await page.locator('#email').textContent(), RESET_EMAIL, await page.content());

  await context.close();
});

test('forgot the password on the login page, reset it from the email, and go back to log in', LIMIT, async () => {
  const email = `zdzislaw-${randomUUID().slice(0, 8)}@example.com`;
  await gh.server.createUser(email, PASSWORD, { email_verified: true, name: 'Zdzisław Ćwikliński' });
  const tenantName = 'Zielona Łąka';
  const patched = await fetch(`${gh.server.baseUrl}/api/v2/tenants/settings`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${await gh.server.managementToken()}`, 'content-type': 'application/json' },
    body: JSON.stringify({ friendly_name: tenantName }),
  });
  assert.equal(patched.status, 200);

  // The RP's login page links to the reset request page of the same login.
  const { context, page } = await freshPage();
  await page.goto(`${rp.baseUrl}/login`);
  assert.equal(new URL(page.url()).pathname, '/u/login');
  await page.getByRole('link', { name: 'Forgot password?' }).click();
  await page.waitForURL('**/u/reset-password?state=**');
  assert.equal(await page.title(), 'Reset your password');
  assert.match(await page.locator('header').textContent(), new RegExp(tenantName));
  await screenshot(page, 'forgot-password.png');

  // The address is taken; the same answer would come for any address.
  const asked = await submitForm(page, '/u/reset-password', { '#email': email }, 'Continue');
  assert.equal(asked.status(), 200);
  assert.equal((await page.locator('h1').textContent()).trim(), 'Check your email');

  // The emailed link opens the reset page; the new password is set.
  const [mail] = await smtp.waitFor(1, to(email));
  const link = mail.link('/lo/reset');
  assert.ok(link.startsWith(`${gh.server.baseUrl}/lo/reset?ticket=`), link);
  await openLink(page, link, 200);
  const changed = await submitForm(page, '/lo/reset', { '#password': NEW_PASSWORD, '#confirm': NEW_PASSWORD }, 'Change password');
  assert.equal(changed.status(), 200, await page.content());

  // Back to the application's login, and in with the new password: the RP gets its code.
  await page.getByRole('link', { name: 'Back to login' }).click();
  await page.waitForURL('**/u/login?state=**');
  const old = await submitForm(page, '/u/login', { '#username': email, '#password': PASSWORD }, 'Continue');
  assert.equal(old.status(), 400);
  await submitForm(page, '/u/login', { '#username': email, '#password': NEW_PASSWORD }, 'Continue');
  await page.waitForURL(`${rp.redirectUri}?**`);
  assert.equal(await page.locator('#email').textContent(), email, await page.content());

  await context.close();
});
