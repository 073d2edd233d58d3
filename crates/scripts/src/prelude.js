// Gatehouse's script prelude: the globals and modules Auth0's custom-database scripts expect,
// written against the natives in native.rs (the `__gh` object, taken away before any script
// runs). Everything here is Gatehouse's own code; nothing reaches the host but through `__gh`.
(function () {
  'use strict';
  const gh = globalThis.__gh;
  delete globalThis.__gh;

  // Natives answer {ok: value} or {error: {message, code}}; the latter is thrown as an Error.
  function unwrap(answer) {
    const a = JSON.parse(answer);
    if (a.error) {
      const e = new Error(a.error.message);
      if (a.error.code) e.code = a.error.code;
      throw e;
    }
    return a.ok;
  }

  function describe(err) {
    if (err instanceof WrongUsernameOrPasswordError) {
      return { class: 'WrongUsernameOrPasswordError', message: String(err.message), first: err.userIdOrEmail ?? null };
    }
    if (err instanceof ValidationError) {
      return { class: 'ValidationError', message: String(err.message), first: err.code ?? null };
    }
    if (err instanceof UnauthorizedError) {
      return { class: 'UnauthorizedError', message: String(err.message), first: null };
    }
    if (err instanceof Error) return { class: 'Error', message: String(err.message), first: null };
    let text;
    try { text = typeof err === 'string' ? err : JSON.stringify(err); } catch (e) { text = String(err); }
    return { class: 'Error', message: String(text), first: null };
  }

  function reportUncaught(e) {
    let text;
    if (e instanceof Error) text = e.name + ': ' + e.message + (e.stack ? '\n' + e.stack : '');
    else { try { text = String(e); } catch (x) { text = 'a value that cannot be shown'; } }
    gh.uncaught(text);
  }

  // Callbacks of I/O run after the current code, as in Node; an exception thrown in one is
  // the run's failure, as an uncaught exception is in Node.
  function defer(fn) {
    Promise.resolve().then(function () {
      try { fn(); } catch (e) { reportUncaught(e); }
    });
  }

  // ----- errors Auth0 gives scripts -----
  class WrongUsernameOrPasswordError extends Error {
    constructor(userIdOrEmail, message) {
      super(message === undefined ? 'Wrong email or password.' : message);
      this.name = 'WrongUsernameOrPasswordError';
      this.userIdOrEmail = userIdOrEmail;
    }
  }
  class ValidationError extends Error {
    constructor(code, message) {
      super(message === undefined ? String(code) : message);
      this.name = 'ValidationError';
      this.code = code;
    }
  }
  class UnauthorizedError extends Error {
    constructor(message) {
      super(message);
      this.name = 'UnauthorizedError';
    }
  }

  // ----- console -----
  function show(v) {
    if (typeof v === 'string') return v;
    if (v instanceof Error) return v.name + ': ' + v.message;
    try { const s = JSON.stringify(v); return s === undefined ? String(v) : s; } catch (e) { return String(v); }
  }
  const consoleObject = {};
  for (const level of ['log', 'info', 'warn', 'error', 'debug', 'trace']) {
    consoleObject[level] = function () {
      gh.console(level, Array.prototype.map.call(arguments, show).join(' '));
    };
  }

  // ----- timers: kept here, fired by the sandbox thread between jobs -----
  let timerSeq = 0;
  const timers = new Map();
  function setTimeout(fn, ms) {
    const args = Array.prototype.slice.call(arguments, 2);
    const id = ++timerSeq;
    timers.set(id, { at: Date.now() + Math.max(0, Number(ms) || 0), fn: fn, args: args });
    return id;
  }
  function clearTimeout(id) { timers.delete(id); }
  function setImmediate(fn) { return setTimeout.apply(undefined, [fn, 0].concat(Array.prototype.slice.call(arguments, 1))); }
  function setInterval(fn, ms) {
    const id = ++timerSeq;
    const every = Math.max(1, Number(ms) || 0);
    const tick = function () { timers.set(id, { at: Date.now() + every, fn: tick, args: [] }); fn(); };
    timers.set(id, { at: Date.now() + every, fn: tick, args: [] });
    return id;
  }
  function nextTimer() {
    let soonest = -1;
    for (const t of timers.values()) {
      if (soonest < 0 || t.at < soonest) soonest = t.at;
    }
    return soonest < 0 ? -1 : Math.max(0, soonest - Date.now());
  }
  function fireTimers() {
    const now = Date.now();
    for (const [id, t] of Array.from(timers.entries())) {
      if (t.at <= now) {
        timers.delete(id);
        try { t.fn.apply(undefined, t.args); } catch (e) { reportUncaught(e); }
      }
    }
  }

  // ----- bytes: UTF-8, hex, base64 -----
  function utf8Bytes(s) {
    s = String(s);
    const out = [];
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d < 0xe000) { c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00); i++; }
        else c = 0xfffd;
      } else if (c >= 0xd800 && c < 0xe000) c = 0xfffd;
      if (c < 0x80) out.push(c);
      else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
      else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
    return out;
  }
  function utf8Text(bytes) {
    let s = '';
    for (let i = 0; i < bytes.length;) {
      const b = bytes[i];
      let c, n;
      if (b < 0x80) { c = b; n = 1; }
      else if (b >= 0xc2 && b < 0xe0) { c = b & 31; n = 2; }
      else if (b >= 0xe0 && b < 0xf0) { c = b & 15; n = 3; }
      else if (b >= 0xf0 && b < 0xf5) { c = b & 7; n = 4; }
      else { s += '\ufffd'; i++; continue; }
      let ok = i + n <= bytes.length;
      for (let k = 1; ok && k < n; k++) {
        if ((bytes[i + k] & 0xc0) !== 0x80) ok = false; else c = (c << 6) | (bytes[i + k] & 63);
      }
      if (!ok) { s += '\ufffd'; i++; continue; }
      s += String.fromCodePoint(c);
      i += n;
    }
    return s;
  }
  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  function toBase64(bytes) {
    let s = '';
    for (let i = 0; i < bytes.length; i += 3) {
      const a = bytes[i], b = bytes[i + 1], c = bytes[i + 2];
      s += B64[a >> 2] + B64[((a & 3) << 4) | ((b ?? 0) >> 4)];
      s += b === undefined ? '=' : B64[((b & 15) << 2) | ((c ?? 0) >> 6)];
      s += c === undefined ? '=' : B64[c & 63];
    }
    return s;
  }
  function fromBase64(s) {
    s = String(s).replace(/-/g, '+').replace(/_/g, '/').replace(/[^A-Za-z0-9+/]/g, '');
    const out = [];
    let bits = 0, acc = 0;
    for (const ch of s) {
      acc = (acc << 6) | B64.indexOf(ch);
      bits += 6;
      if (bits >= 8) { bits -= 8; out.push((acc >> bits) & 255); }
    }
    return out;
  }
  function toHex(bytes) {
    let s = '';
    for (const b of bytes) s += (b < 16 ? '0' : '') + b.toString(16);
    return s;
  }
  function fromHex(s) {
    const out = [];
    for (let i = 0; i + 1 < s.length; i += 2) {
      const b = parseInt(s.substr(i, 2), 16);
      if (Number.isNaN(b)) break;
      out.push(b);
    }
    return out;
  }

  class Buffer extends Uint8Array {
    static from(value, encodingOrOffset, length) {
      if (typeof value === 'string') {
        const enc = String(encodingOrOffset || 'utf8').toLowerCase();
        let bytes;
        if (enc === 'hex') bytes = fromHex(value);
        else if (enc === 'base64' || enc === 'base64url') bytes = fromBase64(value);
        else if (enc === 'latin1' || enc === 'binary' || enc === 'ascii') bytes = Array.from(value, (c) => c.charCodeAt(0) & 255);
        else bytes = utf8Bytes(value);
        return new Buffer(bytes);
      }
      if (value instanceof ArrayBuffer) return new Buffer(new Uint8Array(value, encodingOrOffset || 0, length));
      if (value && value.type === 'Buffer' && Array.isArray(value.data)) return new Buffer(value.data);
      return new Buffer(Array.from(value || []));
    }
    static alloc(n, fill) { const b = new Buffer(n); if (fill !== undefined) b.fill(typeof fill === 'number' ? fill : 0); return b; }
    static allocUnsafe(n) { return new Buffer(n); }
    static isBuffer(b) { return b instanceof Buffer; }
    static byteLength(s, enc) { return typeof s === 'string' ? Buffer.from(s, enc).length : s.length; }
    static concat(list, total) {
      const size = total ?? list.reduce((n, b) => n + b.length, 0);
      const out = Buffer.alloc(size);
      let at = 0;
      for (const b of list) { out.set(b.subarray(0, Math.max(0, size - at)), at); at += b.length; if (at >= size) break; }
      return out;
    }
    static compare(a, b) { return a.compare(b); }
    toString(encoding, start, end) {
      const bytes = this.subarray(start || 0, end === undefined ? this.length : end);
      const enc = String(encoding || 'utf8').toLowerCase();
      if (enc === 'hex') return toHex(bytes);
      if (enc === 'base64') return toBase64(bytes);
      if (enc === 'base64url') return toBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
      if (enc === 'latin1' || enc === 'binary' || enc === 'ascii') return String.fromCharCode.apply(null, Array.from(bytes));
      return utf8Text(bytes);
    }
    toJSON() { return { type: 'Buffer', data: Array.from(this) }; }
    equals(other) { return this.compare(other) === 0; }
    compare(other) {
      const n = Math.min(this.length, other.length);
      for (let i = 0; i < n; i++) if (this[i] !== other[i]) return this[i] < other[i] ? -1 : 1;
      return this.length === other.length ? 0 : this.length < other.length ? -1 : 1;
    }
    slice(start, end) { return Buffer.from(this.subarray(start, end)); }
    subarray(start, end) { return new Buffer(Uint8Array.prototype.slice.call(this, start, end)); }
  }
  function bytesOf(data, encoding) {
    if (data instanceof Uint8Array) return data;
    if (data instanceof ArrayBuffer) return new Uint8Array(data);
    return Buffer.from(String(data), encoding);
  }
  function b64Of(data, encoding) { return toBase64(bytesOf(data, encoding)); }

  class TextEncoder {
    get encoding() { return 'utf-8'; }
    encode(s) { return new Uint8Array(utf8Bytes(s === undefined ? '' : s)); }
  }
  class TextDecoder {
    get encoding() { return 'utf-8'; }
    decode(b) { return b === undefined ? '' : utf8Text(b instanceof ArrayBuffer ? new Uint8Array(b) : b); }
  }

  // ----- URL -----
  class URLSearchParams {
    constructor(init) {
      this._pairs = [];
      if (typeof init === 'string') {
        for (const part of init.replace(/^\?/, '').split('&')) {
          if (!part) continue;
          const i = part.indexOf('=');
          const dec = (s) => decodeURIComponent(s.replace(/\+/g, ' '));
          this._pairs.push(i < 0 ? [dec(part), ''] : [dec(part.slice(0, i)), dec(part.slice(i + 1))]);
        }
      } else if (init && typeof init === 'object') {
        for (const k of Object.keys(init)) this._pairs.push([k, String(init[k])]);
      }
    }
    get(k) { const p = this._pairs.find((p) => p[0] === k); return p ? p[1] : null; }
    getAll(k) { return this._pairs.filter((p) => p[0] === k).map((p) => p[1]); }
    has(k) { return this._pairs.some((p) => p[0] === k); }
    set(k, v) { this.delete(k); this._pairs.push([k, String(v)]); }
    append(k, v) { this._pairs.push([k, String(v)]); }
    delete(k) { this._pairs = this._pairs.filter((p) => p[0] !== k); }
    forEach(fn) { for (const [k, v] of this._pairs) fn(v, k, this); }
    entries() { return this._pairs[Symbol.iterator](); }
    [Symbol.iterator]() { return this._pairs[Symbol.iterator](); }
    toString() {
      const enc = (s) => encodeURIComponent(s).replace(/%20/g, '+');
      return this._pairs.map((p) => enc(p[0]) + '=' + enc(p[1])).join('&');
    }
  }
  class URL {
    constructor(url, base) {
      const p = unwrap(gh.urlParse(String(url), base === undefined ? null : String(base)));
      Object.assign(this, p);
      this.searchParams = new URLSearchParams(p.search);
    }
    toString() { return this.href; }
    toJSON() { return this.href; }
  }

  // ----- crypto -----
  function encodeDigest(b64, encoding) {
    const bytes = Buffer.from(b64, 'base64');
    return encoding ? bytes.toString(encoding) : bytes;
  }
  function hashObject(start) {
    const parts = [];
    return {
      update(data, encoding) { parts.push(bytesOf(data, encoding)); return this; },
      digest(encoding) { return encodeDigest(start(b64Of(Buffer.concat(parts))), encoding); },
    };
  }
  const crypto = {
    createHash(alg) { return hashObject((data) => unwrap(gh.digest(String(alg), data))); },
    createHmac(alg, key) { const k = b64Of(key); return hashObject((data) => unwrap(gh.hmac(String(alg), k, data))); },
    randomBytes(n, cb) {
      const bytes = Buffer.from(unwrap(gh.randomBytes(Number(n))), 'base64');
      if (typeof cb === 'function') { defer(() => cb(null, bytes)); return undefined; }
      return bytes;
    },
    randomUUID() {
      const b = Buffer.from(unwrap(gh.randomBytes(16)), 'base64');
      b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
      const h = b.toString('hex');
      return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
    },
    timingSafeEqual(a, b) {
      if (a.length !== b.length) throw new RangeError('Input buffers must have the same byte length');
      return unwrap(gh.timingSafeEqual(b64Of(a), b64Of(b)));
    },
    pbkdf2Sync(password, salt, iterations, keylen, digest) {
      return Buffer.from(unwrap(gh.pbkdf2(b64Of(password), b64Of(salt), Number(iterations), Number(keylen), String(digest || 'sha1'))), 'base64');
    },
    pbkdf2(password, salt, iterations, keylen, digest, cb) {
      let out, err = null;
      try { out = crypto.pbkdf2Sync(password, salt, iterations, keylen, digest); } catch (e) { err = e; }
      defer(() => cb(err, out));
    },
  };
  crypto.webcrypto = { getRandomValues(a) { a.set(crypto.randomBytes(a.length)); return a; } };

  // ----- bcrypt (and bcryptjs) -----
  function later(cb, work) {
    let out, err = null;
    try { out = work(); } catch (e) { err = e; }
    if (typeof cb === 'function') { defer(() => cb(err, out)); return undefined; }
    return err ? Promise.reject(err) : Promise.resolve(out);
  }
  function roundsOf(saltOrRounds) {
    if (typeof saltOrRounds === 'number') return saltOrRounds;
    const m = /^\$2[abxy]?\$(\d\d)\$/.exec(String(saltOrRounds));
    return m ? Number(m[1]) : 10;
  }
  const bcrypt = {
    compare(plain, hash, cb) { return later(cb, () => unwrap(gh.bcryptCompare(String(plain), String(hash)))); },
    compareSync(plain, hash) { return unwrap(gh.bcryptCompare(String(plain), String(hash))); },
    hash(plain, saltOrRounds, cb) { return later(cb, () => unwrap(gh.bcryptHash(String(plain), roundsOf(saltOrRounds)))); },
    hashSync(plain, saltOrRounds) { return unwrap(gh.bcryptHash(String(plain), roundsOf(saltOrRounds === undefined ? 10 : saltOrRounds))); },
    genSalt(rounds, cb) {
      if (typeof rounds === 'function') { cb = rounds; rounds = 10; }
      return later(cb, () => bcrypt.genSaltSync(rounds));
    },
    genSaltSync(rounds) {
      const r = Math.min(31, Math.max(4, Number(rounds) || 10));
      return '$2b$' + (r < 10 ? '0' : '') + r + '$' + crypto.randomBytes(16).toString('base64').replace(/[^A-Za-z0-9]/g, '.').slice(0, 22);
    },
    getRounds(hash) { return roundsOf(hash); },
  };

  // ----- HTTP: fetch, node-fetch, request, axios -----
  function httpSend(method, url, headers, body) {
    const answer = unwrap(gh.fetch(JSON.stringify({
      method: method, url: String(url), headers: headers || {},
      body: body === undefined || body === null ? null : b64Of(body),
    })));
    answer.bytes = Buffer.from(answer.body, 'base64');
    return answer;
  }
  function plainHeaders(h) {
    const out = {};
    if (!h) return out;
    if (typeof h.forEach === 'function' && !Array.isArray(h)) { h.forEach((v, k) => { out[String(k).toLowerCase()] = String(v); }); return out; }
    for (const k of Object.keys(h)) out[k.toLowerCase()] = String(h[k]);
    return out;
  }
  class Headers {
    constructor(init) { this._h = plainHeaders(init); }
    get(k) { const v = this._h[String(k).toLowerCase()]; return v === undefined ? null : v; }
    has(k) { return String(k).toLowerCase() in this._h; }
    set(k, v) { this._h[String(k).toLowerCase()] = String(v); }
    append(k, v) { const key = String(k).toLowerCase(); this._h[key] = key in this._h ? this._h[key] + ', ' + v : String(v); }
    forEach(fn) { for (const k of Object.keys(this._h)) fn(this._h[k], k, this); }
    entries() { return Object.entries(this._h)[Symbol.iterator](); }
    [Symbol.iterator]() { return this.entries(); }
  }
  class Response {
    constructor(a) {
      this.status = a.status; this.statusText = a.statusText; this.ok = a.status >= 200 && a.status < 300;
      this.url = a.url; this.headers = new Headers(a.headers); this._bytes = a.bytes;
    }
    text() { return Promise.resolve(this._bytes.toString('utf8')); }
    json() { try { return Promise.resolve(JSON.parse(this._bytes.toString('utf8'))); } catch (e) { return Promise.reject(e); } }
    arrayBuffer() { return Promise.resolve(Uint8Array.from(this._bytes).buffer); }
    buffer() { return Promise.resolve(this._bytes); }
  }
  function fetch(resource, init) {
    init = init || {};
    try {
      const a = httpSend(init.method || 'GET', resource instanceof URL ? resource.href : resource, plainHeaders(init.headers), init.body instanceof URLSearchParams ? init.body.toString() : init.body);
      return Promise.resolve(new Response(a));
    } catch (e) {
      return Promise.reject(new TypeError('fetch failed: ' + e.message));
    }
  }
  fetch.default = fetch;
  fetch.Headers = Headers;
  fetch.Response = Response;

  function request(options, cb) {
    if (typeof options === 'string') options = { url: options };
    options = Object.assign({}, options);
    let url = options.url || options.uri;
    if (options.baseUrl) url = String(options.baseUrl).replace(/\/$/, '') + '/' + String(url).replace(/^\//, '');
    if (options.qs) {
      const q = new URLSearchParams(options.qs).toString();
      if (q) url += (String(url).includes('?') ? '&' : '?') + q;
    }
    const headers = plainHeaders(options.headers);
    let body = options.body;
    if (options.json && typeof options.json === 'object') { body = JSON.stringify(options.json); headers['content-type'] = headers['content-type'] || 'application/json'; }
    else if (options.json && body !== undefined && typeof body === 'object') { body = JSON.stringify(body); headers['content-type'] = headers['content-type'] || 'application/json'; }
    if (options.json) headers.accept = headers.accept || 'application/json';
    if (options.form) { body = new URLSearchParams(options.form).toString(); headers['content-type'] = 'application/x-www-form-urlencoded'; }
    const auth = options.auth;
    if (auth && auth.bearer) headers.authorization = 'Bearer ' + auth.bearer;
    else if (auth) headers.authorization = 'Basic ' + Buffer.from((auth.user || auth.username || '') + ':' + (auth.pass || auth.password || '')).toString('base64');
    let err = null, response;
    try {
      const a = httpSend(options.method || 'GET', url, headers, body);
      let parsed = a.bytes.toString('utf8');
      if (options.json) { try { parsed = JSON.parse(parsed); } catch (e) { /* Node's request keeps the text */ } }
      response = { statusCode: a.status, statusMessage: a.statusText, headers: a.headers, body: parsed };
    } catch (e) { err = e; }
    if (typeof cb === 'function') defer(() => cb(err, response, response && response.body));
    return undefined;
  }
  for (const m of ['get', 'post', 'put', 'patch', 'head', 'delete']) {
    request[m] = function (options, cb) {
      if (typeof options === 'string') options = { url: options };
      return request(Object.assign({}, options, { method: m.toUpperCase() }), cb);
    };
  }
  request.del = request.delete;
  request.defaults = function (d) {
    const r = function (o, cb) { return request(Object.assign({}, d, typeof o === 'string' ? { url: o } : o), cb); };
    for (const m of ['get', 'post', 'put', 'patch', 'head', 'delete', 'del']) r[m] = function (o, cb) { return request[m](Object.assign({}, d, typeof o === 'string' ? { url: o } : o), cb); };
    return r;
  };

  function axiosCall(config) {
    config = Object.assign({ method: 'get' }, config);
    let url = config.url;
    if (config.baseURL && !/^https?:/i.test(url)) url = String(config.baseURL).replace(/\/$/, '') + '/' + String(url).replace(/^\//, '');
    if (config.params) { const q = new URLSearchParams(config.params).toString(); if (q) url += (String(url).includes('?') ? '&' : '?') + q; }
    const headers = plainHeaders(config.headers);
    let body = config.data;
    if (body !== undefined && typeof body === 'object' && !(body instanceof Uint8Array)) {
      if (body instanceof URLSearchParams) { body = body.toString(); headers['content-type'] = headers['content-type'] || 'application/x-www-form-urlencoded'; }
      else { body = JSON.stringify(body); headers['content-type'] = headers['content-type'] || 'application/json'; }
    }
    if (config.auth) headers.authorization = 'Basic ' + Buffer.from(config.auth.username + ':' + config.auth.password).toString('base64');
    try {
      const a = httpSend(config.method, url, headers, body);
      let data = a.bytes.toString('utf8');
      try { data = JSON.parse(data); } catch (e) { /* text */ }
      const response = { status: a.status, statusText: a.statusText, headers: a.headers, data: data, config: config };
      if (a.status >= 200 && a.status < 300) return Promise.resolve(response);
      const e = new Error('Request failed with status code ' + a.status);
      e.response = response; e.isAxiosError = true;
      return Promise.reject(e);
    } catch (e) {
      e.isAxiosError = true;
      return Promise.reject(e);
    }
  }
  const axios = function (configOrUrl, config) { return typeof configOrUrl === 'string' ? axiosCall(Object.assign({}, config, { url: configOrUrl })) : axiosCall(configOrUrl); };
  for (const m of ['get', 'delete', 'head', 'options']) axios[m] = (url, config) => axiosCall(Object.assign({}, config, { url: url, method: m }));
  for (const m of ['post', 'put', 'patch']) axios[m] = (url, data, config) => axiosCall(Object.assign({}, config, { url: url, method: m, data: data }));
  axios.create = (defaults) => { const a = (c) => axiosCall(Object.assign({}, defaults, c)); for (const k of Object.keys(axios)) a[k] = axios[k]; return a; };
  axios.default = axios;

  // ----- pg (node-postgres) -----
  function connectionString(config) {
    if (typeof config === 'string') return config;
    config = config || {};
    if (config.connectionString) return config.connectionString;
    const user = encodeURIComponent(config.user || 'postgres');
    const password = config.password ? ':' + encodeURIComponent(config.password) : '';
    const host = config.host || 'localhost';
    const port = config.port || 5432;
    const database = encodeURIComponent(config.database || config.user || 'postgres');
    return 'postgres://' + user + password + '@' + host + ':' + port + '/' + database;
  }
  function runQuery(connection, text, values) {
    if (text && typeof text === 'object') { values = text.values; text = text.text; }
    const params = (values || []).map((v) => (v instanceof Date ? v.toISOString() : v instanceof Uint8Array ? Buffer.from(v).toJSON() : v));
    const r = unwrap(gh.pg(connection, String(text), JSON.stringify(params)));
    for (const name of r.dates || []) {
      for (const row of r.rows) if (row[name] !== null && row[name] !== undefined) row[name] = new Date(row[name]);
    }
    for (const row of r.rows) {
      for (const k of Object.keys(row)) {
        const v = row[k];
        if (v && v.type === 'Buffer' && Array.isArray(v.data)) row[k] = Buffer.from(v.data);
      }
    }
    delete r.dates;
    return r;
  }
  class PgClient {
    constructor(config) { this._connection = connectionString(config); }
    connect(cb) { return later(cb, () => this); }
    query(text, values, cb) {
      if (typeof values === 'function') { cb = values; values = undefined; }
      return later(cb, () => runQuery(this._connection, text, values));
    }
    release() {}
    end(cb) { return later(cb, () => undefined); }
    on() { return this; }
  }
  class PgPool {
    constructor(config) { this._connection = connectionString(config); }
    query(text, values, cb) {
      if (typeof values === 'function') { cb = values; values = undefined; }
      return later(cb, () => runQuery(this._connection, text, values));
    }
    connect(cb) {
      const client = new PgClient(this._connection);
      if (typeof cb === 'function') { defer(() => cb(null, client, function release() {})); return undefined; }
      return Promise.resolve(client);
    }
    end(cb) { return later(cb, () => undefined); }
    on() { return this; }
  }
  const pg = {
    Client: PgClient,
    Pool: PgPool,
    // pg before version 7: pg.connect(conString, function (err, client, done) { … })
    connect(config, cb) {
      const client = new PgClient(config);
      if (typeof cb === 'function') { defer(() => cb(null, client, function done() {})); return undefined; }
      return Promise.resolve(client);
    },
    types: { setTypeParser() {}, getTypeParser() { return (v) => v; } },
    defaults: {},
  };
  pg.native = pg;

  // ----- require -----
  const modules = {
    pg: pg,
    bcrypt: bcrypt,
    bcryptjs: bcrypt,
    crypto: crypto,
    request: request,
    'node-fetch': fetch,
    axios: axios,
    buffer: { Buffer: Buffer },
    url: { URL: URL, URLSearchParams: URLSearchParams },
    util: { TextEncoder: TextEncoder, TextDecoder: TextDecoder, promisify: (fn) => (...args) => new Promise((ok, no) => fn(...args, (e, v) => (e ? no(e) : ok(v)))) },
  };
  function require(name) {
    name = String(name);
    // Auth0 lets scripts pin versions ("pg@8.7.1"); the bridged modules have one version.
    const bare = name.startsWith('@') ? name : name.replace(/@[^/]*$/, '');
    if (Object.prototype.hasOwnProperty.call(modules, bare)) return modules[bare];
    throw new Error("Cannot find module '" + name + "': Gatehouse scripts can require " + Object.keys(modules).join(', ') + ' (nothing of the file system, processes or the environment)');
  }

  function makeCallback() {
    let called = false;
    return function callback(err, value) {
      if (called) return;
      called = true;
      let result = null;
      if (value !== undefined) {
        try { result = JSON.stringify(value); } catch (e) { gh.uncaught('the callback was given a value that cannot be read: ' + e.message); return; }
      }
      gh.settle(err === undefined || err === null ? null : JSON.stringify(describe(err)), result === undefined ? null : result);
    };
  }

  function start(fn, args) {
    if (typeof fn !== 'function') {
      throw new TypeError('the script must be a function, such as function login(email, password, callback) { … }');
    }
    const returned = fn.apply(undefined, args.concat([makeCallback()]));
    if (returned && typeof returned.then === 'function') returned.then(undefined, reportUncaught);
  }

  const hidden = { value: undefined, writable: false, enumerable: false, configurable: false };
  Object.defineProperty(globalThis, '__gatehouse', Object.assign({}, hidden, { value: Object.freeze({ start, nextTimer, fireTimers }) }));
  Object.assign(globalThis, {
    WrongUsernameOrPasswordError, ValidationError, UnauthorizedError,
    console: consoleObject, setTimeout, clearTimeout, setImmediate, setInterval, clearInterval: clearTimeout,
    queueMicrotask: (fn) => defer(fn),
    Buffer, TextEncoder, TextDecoder, URL, URLSearchParams, fetch, Headers, Response, require,
  });
})();
