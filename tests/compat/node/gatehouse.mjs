// Start the real Gatehouse binary for the Node compatibility tests, and set up
// applications and users through its Management API.
//
// Each test file gets its own server: a free port on 127.0.0.1, a fresh SQLite
// database in a temp directory (or, when GATEHOUSE_TEST_DATABASE_URL names a
// PostgreSQL server, a fresh database created there with `psql` and dropped when
// the file ends), fixed bootstrap credentials and a random secret key. The
// server is stopped (SIGTERM, then SIGKILL) when the file's tests end. Its
// stdout/stderr go to `gatehouse.log` in that directory; if a test failed the
// directory is kept and its path printed, otherwise it is removed. Extra
// environment variables for the server (e.g. GATEHOUSE_SMTP_URL) can be given.

import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, afterEach, before } from 'node:test';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

// Bootstrap machine-to-machine credentials (id: 32 alphanumerics, secret: >= 32 chars).
const BOOT_ID = 'GhCompatNode0123456789abcdefABCD';
const BOOT_SECRET = 'gatehouse-compat-node-secret-0123456789-abcdefghij';

const STARTUP_TIMEOUT_MS = Number(process.env.GATEHOUSE_STARTUP_TIMEOUT ?? 60) * 1000;

export const PASSWORD = 'Sup3r-secret!';

/** GATEHOUSE_BIN (absolute or relative to the repo root), default target/debug/gatehouse.
 *  A rebuild can remove the binary for a moment, so wait up to 30 s for it. */
export async function resolveBinary() {
  const configured = process.env.GATEHOUSE_BIN || 'target/debug/gatehouse';
  const bin = isAbsolute(configured) ? configured : join(REPO_ROOT, configured);
  for (let waited = 0; ; waited += 1) {
    try {
      accessSync(bin, constants.X_OK);
      return bin;
    } catch {
      if (waited >= 30) {
        throw new Error(`gatehouse binary not found at ${bin}; build it or set GATEHOUSE_BIN`);
      }
      await sleep(1000);
    }
  }
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

/** Variables of the test's own environment that are not passed on to the server. */
const UNSET = [
  'GATEHOUSE_PUBLIC_URL', 'GATEHOUSE_RATE_LIMIT', 'GATEHOUSE_SECRET_KEY_FILE',
  'GATEHOUSE_SMTP_URL', 'GATEHOUSE_SMTP_FROM', 'GATEHOUSE_MAIL_POLL_MS',
  'GATEHOUSE_TEST_DATABASE_URL',
];

/** GATEHOUSE_TEST_DATABASE_URL: a PostgreSQL server (any database on it) to create test databases on. */
const PG_ADMIN_URL = process.env.GATEHOUSE_TEST_DATABASE_URL || '';

/** Run one SQL statement with psql against the GATEHOUSE_TEST_DATABASE_URL database. */
async function psql(sql) {
  try {
    await promisify(execFile)('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', PG_ADMIN_URL, '-c', sql]);
  } catch (err) {
    throw new Error(`psql ${JSON.stringify(sql)} failed: ${err.stderr || err.message}`);
  }
}

/** A database for one server: a SQLite file in `dir`, or a PostgreSQL database of its own. */
class TestDatabase {
  constructor(dir) {
    this.dir = dir;
    this.pgName = PG_ADMIN_URL ? `gh_node_${randomBytes(6).toString('hex')}` : null;
  }

  /** What the server's GATEHOUSE_DATABASE_URL is set to. */
  get url() {
    if (!this.pgName) return `sqlite://${join(this.dir, 'gh.db')}`;
    const [base, query] = PG_ADMIN_URL.split(/\?(.*)/s, 2);
    return `${base.slice(0, base.lastIndexOf('/'))}/${this.pgName}${query ? `?${query}` : ''}`;
  }

  /** Empty: the SQLite files removed, or the PostgreSQL database (re)created. */
  async reset() {
    if (!this.pgName) {
      for (const suffix of ['', '-wal', '-shm']) rmSync(join(this.dir, `gh.db${suffix}`), { force: true });
      return;
    }
    await this.drop();
    await psql(`CREATE DATABASE "${this.pgName}"`);
  }

  /** Remove a PostgreSQL database (the server must be stopped); SQLite files go with the directory. */
  async drop() {
    if (this.pgName) await psql(`DROP DATABASE IF EXISTS "${this.pgName}" WITH (FORCE)`);
  }
}

/** One running gatehouse process. `env`: extra variables for the server (they win). */
export class Gatehouse {
  constructor(bin, dir, { env = {} } = {}) {
    this.bin = bin;
    this.dir = dir;
    this.extraEnv = env;
    this.logPath = join(dir, 'gatehouse.log');
    this.database = new TestDatabase(dir);
    this.child = null;
    this.port = 0;
  }

  get baseUrl() { return `http://127.0.0.1:${this.port}`; }
  /** Where browsers reach the server: GATEHOUSE_PUBLIC_URL when given (a TLS proxy). */
  get publicUrl() { return this.extraEnv.GATEHOUSE_PUBLIC_URL || this.baseUrl; }
  /** The issuer identifier: the public URL with a trailing slash. */
  get issuer() { return `${this.publicUrl}/`; }
  get audience() { return `${this.publicUrl}/api/v2/`; }

  async start() {
    for (let attempt = 0; attempt < 3; attempt += 1) { // a free port can be taken by someone else
      this.port = await freePort();
      if (await this.#spawnAndWait()) return this;
      await this.stop();
    }
    throw new Error(`gatehouse did not become ready; log: ${this.logPath}\n${this.logTail()}`);
  }

  async #spawnAndWait() {
    await this.database.reset();
    const env = { ...process.env };
    for (const name of UNSET) delete env[name];
    Object.assign(env, {
      GATEHOUSE_LISTEN: `127.0.0.1:${this.port}`,
      GATEHOUSE_DATABASE_URL: this.database.url,
      GATEHOUSE_SECRET_KEY: randomBytes(32).toString('hex'),
      GATEHOUSE_BOOTSTRAP_CLIENT_ID: BOOT_ID,
      GATEHOUSE_BOOTSTRAP_CLIENT_SECRET: BOOT_SECRET,
      RUST_BACKTRACE: '1',
    }, this.extraEnv);
    const log = openSync(this.logPath, 'a');
    this.child = spawn(this.bin, ['serve'], { cwd: this.dir, env, stdio: ['ignore', log, log] });
    closeSync(log);
    this.child.on('error', (err) => console.error(`cannot run ${this.bin}: ${err.message}`));
    let dead = false;
    const exited = new Promise((ok) => this.child.once('close', () => { dead = true; ok(); }));

    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (dead) return false;
      try {
        const res = await fetch(`${this.baseUrl}/.well-known/openid-configuration`);
        await res.arrayBuffer();
        if (res.status === 200) return true;
      } catch { /* not listening yet */ }
      await Promise.race([sleep(100), exited]);
    }
    return false;
  }

  async stop() {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((ok) => child.once('exit', ok));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  /** Kill at once (for process exit after a crash; synchronous). */
  killNow() {
    if (this.child && this.child.exitCode === null) this.child.kill('SIGKILL');
  }

  logTail(lines = 40) {
    try {
      return readFileSync(this.logPath, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  // -- Management API -------------------------------------------------------

  async managementToken() {
    if (!this.token) {
      const body = await this.#json('POST', '/oauth/token', {
        grant_type: 'client_credentials',
        client_id: BOOT_ID,
        client_secret: BOOT_SECRET,
        audience: this.audience,
      }, 200);
      this.token = body.access_token;
    }
    return this.token;
  }

  /** POST /api/v2/clients; returns the created application (with client_secret). */
  createClient(fields) {
    return this.#management('POST', '/api/v2/clients', {
      grant_types: ['authorization_code', 'refresh_token'],
      ...fields,
    }, 201);
  }

  /** POST /api/v2/users on the database connection (`fields` added to the body, e.g.
   *  `{ email_verified: true }`); returns the created user. */
  createUser(email, password = PASSWORD, fields = {}) {
    return this.#management('POST', '/api/v2/users', {
      connection: 'Username-Password-Authentication',
      email,
      password,
      ...fields,
    }, 201);
  }

  /** GET /api/v2/users/{id}; returns the user. */
  user(id) {
    return this.#management('GET', `/api/v2/users/${encodeURIComponent(id)}`, undefined, 200);
  }

  /** POST /api/v2/connections (e.g. an `oidc` connection to an upstream provider); returns it. */
  createConnection(fields) {
    return this.#management('POST', '/api/v2/connections', fields, 201);
  }

  /** GET /api/v2/users-by-email; returns the matching users. */
  usersByEmail(email) {
    return this.#management('GET', `/api/v2/users-by-email?email=${encodeURIComponent(email)}`, undefined, 200);
  }

  /** Any Management API call with the bootstrap token; returns the parsed answer. */
  management(method, path, body, expectedStatus) {
    return this.#management(method, path, body, expectedStatus);
  }

  async #management(method, path, body, expectedStatus) {
    return this.#json(method, path, body, expectedStatus, await this.managementToken());
  }

  async #json(method, path, body, expectedStatus, token) {
    const headers = body === undefined ? {} : { 'content-type': 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(this.baseUrl + path, { method, headers, body: JSON.stringify(body) });
    const text = await res.text();
    if (res.status !== expectedStatus) {
      throw new Error(`${method} ${path}: expected ${expectedStatus}, got ${res.status}: ${text}`);
    }
    return text === '' ? null : JSON.parse(text);
  }
}

/**
 * Register node:test hooks that start one server before the file's tests, then
 * run `setup(server)` (one hook: Node 20 runs top-level `before` hooks
 * concurrently), and stop the server (and drop its PostgreSQL database) after
 * the tests. `options.env` adds environment variables for the server. Returns a
 * handle whose `.server` is set once started.
 */
export function useGatehouse(setup = async () => {}, options = {}) {
  const handle = { server: null };
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-node-'));
  let failed = false;
  let server = null; // set before it starts, so a database made for a failed start is dropped too

  before(async () => {
    try {
      server = new Gatehouse(await resolveBinary(), dir, options);
      handle.server = await server.start();
      await setup(handle.server);
    } catch (err) {
      failed = true;
      throw err;
    }
  }, { timeout: STARTUP_TIMEOUT_MS * 3 + 60_000 });
  afterEach((t) => {
    if (!t.passed) failed = true;
  });
  after(async () => {
    await server?.stop(); // SIGKILL after 10 s
    await server?.database.drop();
    if (failed) {
      console.error(`gatehouse log kept: ${join(dir, 'gatehouse.log')}`);
    } else {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  // If the test process dies before `after` runs, do not leave the server behind.
  process.once('exit', () => server?.killNow());
  return handle;
}
