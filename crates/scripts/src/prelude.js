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

  // ----- mysql (the npm `mysql` package; `mysql2` on the same code) -----
  // Placeholders are expanded here as the package's `format` does, but into bound parameters:
  // `??` becomes a quoted identifier, an object `SET ?` becomes `k1` = ?, `k2` = ?, an array
  // `IN (?)` becomes ?, ?, ?; the values themselves always travel bound.
  const MYSQL_TYPE_NAMES = {
    1: 'TINY', 2: 'SHORT', 3: 'LONG', 4: 'FLOAT', 5: 'DOUBLE', 6: 'NULL', 7: 'TIMESTAMP', 8: 'LONGLONG',
    9: 'INT24', 10: 'DATE', 11: 'TIME', 12: 'DATETIME', 13: 'YEAR', 16: 'BIT', 245: 'JSON', 246: 'NEWDECIMAL',
    247: 'ENUM', 248: 'SET', 249: 'TINY_BLOB', 250: 'MEDIUM_BLOB', 251: 'LONG_BLOB', 252: 'BLOB',
    253: 'VAR_STRING', 254: 'STRING', 255: 'GEOMETRY',
  };
  const MYSQL_TYPES = {};
  for (const code of Object.keys(MYSQL_TYPE_NAMES)) MYSQL_TYPES[MYSQL_TYPE_NAMES[code]] = Number(code);

  function isPlainObjectValue(v) {
    return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) && !(v instanceof Uint8Array);
  }
  // The time zone option: 'local' (UTC, as Auth0's Node runs), 'Z', or '+HH:MM' / '-HHMM'.
  function mysqlZoneMinutes(tz) {
    const m = /^([+-])(\d\d):?(\d\d)$/.exec(String(tz || ''));
    return m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
  }
  function pad(n, w) { let s = String(n); while (s.length < (w || 2)) s = '0' + s; return s; }
  function mysqlDateText(date, tz) {
    if (isNaN(date.getTime())) return null;
    const d = new Date(date.getTime() + mysqlZoneMinutes(tz) * 60000);
    return pad(d.getUTCFullYear(), 4) + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()) + ' ' +
      pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes()) + ':' + pad(d.getUTCSeconds()) + '.' + pad(d.getUTCMilliseconds(), 3);
  }
  // MySQL's date text as a Date; text that is no date ('0000-00-00') stays text, as npm's does.
  function mysqlDate(text, tz) {
    const m = /^(\d{4})-(\d\d)-(\d\d)(?: (\d\d):(\d\d):(\d\d)(?:\.(\d+))?)?$/.exec(text);
    if (!m) return text;
    const month = Number(m[2]), day = Number(m[3]);
    if (month < 1 || month > 12 || day < 1 || day > 31) return text;
    const d = new Date(0);
    d.setUTCFullYear(Number(m[1]), month - 1, day);
    d.setUTCHours(Number(m[4] || 0), Number(m[5] || 0), Number(m[6] || 0), m[7] ? Number((m[7] + '00').slice(0, 3)) : 0);
    const t = d.getTime() - mysqlZoneMinutes(tz) * 60000;
    return isNaN(t) ? text : new Date(t);
  }

  // ----- the package's own escaping (mysql.escape, mysql.format) -----
  function sqlEscapeId(v, forbidQualified) {
    if (Array.isArray(v)) return v.map((x) => sqlEscapeId(x, forbidQualified)).join(', ');
    const quoted = '`' + String(v).replace(/`/g, '``') + '`';
    return forbidQualified ? quoted : quoted.replace(/\./g, '`.`');
  }
  function sqlEscapeString(s) {
    const map = { '\0': '\\0', '\b': '\\b', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\x1a': '\\Z', '"': '\\"', "'": "\\'", '\\': '\\\\' };
    return "'" + String(s).replace(/[\0\b\t\n\r\x1a"'\\]/g, (c) => map[c]) + "'";
  }
  function sqlEscape(v, stringifyObjects, tz) {
    if (v === undefined || v === null) return 'NULL';
    switch (typeof v) {
      case 'boolean': return v ? 'true' : 'false';
      case 'number': case 'bigint': return String(v);
      case 'object':
        if (v instanceof Date) { const t = mysqlDateText(v, tz); return t === null ? 'NULL' : sqlEscapeString(t); }
        if (Array.isArray(v)) return v.map((x) => (Array.isArray(x) ? '(' + sqlEscape(x, true, tz) + ')' : sqlEscape(x, true, tz))).join(', ');
        if (v instanceof Uint8Array) return "X'" + toHex(v) + "'";
        if (typeof v.toSqlString === 'function') return String(v.toSqlString());
        if (stringifyObjects) return sqlEscapeString(v.toString());
        return Object.keys(v).filter((k) => typeof v[k] !== 'function').map((k) => sqlEscapeId(k) + ' = ' + sqlEscape(v[k], true, tz)).join(', ');
      default: return sqlEscapeString(v);
    }
  }
  function sqlFormat(sql, values, stringifyObjects, tz) {
    if (values === undefined || values === null) return sql;
    if (!Array.isArray(values)) values = [values];
    const re = /\?+/g;
    let out = '', chunk = 0, vi = 0, m;
    while (vi < values.length && (m = re.exec(sql))) {
      if (m[0].length > 2) continue;
      out += sql.slice(chunk, m.index) + (m[0].length === 2 ? sqlEscapeId(values[vi]) : sqlEscape(values[vi], stringifyObjects, tz));
      chunk = re.lastIndex;
      vi++;
    }
    return chunk === 0 ? sql : out + sql.slice(chunk);
  }

  // ----- placeholders into bound parameters -----
  function mysqlBound(v, params, tz) {
    if (v === undefined || v === null) { params.push(null); return '?'; }
    if (typeof v === 'object' && typeof v.toSqlString === 'function') return String(v.toSqlString());
    if (v instanceof Date) { params.push(mysqlDateText(v, tz)); return '?'; }
    if (v instanceof Uint8Array) { params.push(Buffer.from(v).toJSON()); return '?'; }
    if (typeof v === 'bigint') { params.push(String(v)); return '?'; }
    if (typeof v === 'number' && !isFinite(v)) { params.push(null); return '?'; }
    if (typeof v === 'object') { params.push(JSON.stringify(v)); return '?'; }
    params.push(v);
    return '?';
  }
  function mysqlPlaceholder(v, params, tz) {
    if (Array.isArray(v)) {
      return v.map((x) => (Array.isArray(x) ? '(' + x.map((y) => mysqlBound(y, params, tz)).join(', ') + ')' : mysqlBound(x, params, tz))).join(', ');
    }
    if (isPlainObjectValue(v) && typeof v.toSqlString !== 'function') {
      return Object.keys(v).filter((k) => typeof v[k] !== 'function').map((k) => sqlEscapeId(k) + ' = ' + mysqlBound(v[k], params, tz)).join(', ');
    }
    return mysqlBound(v, params, tz);
  }
  // Walks the SQL as the server does (quotes, backticks and comments hold no placeholders).
  function mysqlExpand(sql, values, tz) {
    sql = String(sql);
    if (values === undefined || values === null) values = [];
    else if (!Array.isArray(values)) values = [values];
    const params = [];
    let out = '', i = 0, vi = 0;
    while (i < sql.length) {
      const c = sql[i];
      let j = i + 1;
      if (c === "'" || c === '"' || c === '`') {
        while (j < sql.length) {
          if (sql[j] === '\\' && c !== '`') { j += 2; continue; }
          if (sql[j] === c) { if (sql[j + 1] === c) { j += 2; continue; } j++; break; }
          j++;
        }
      } else if (c === '#' || (c === '-' && sql[i + 1] === '-' && /[\s]/.test(sql[i + 2] || ' '))) {
        while (j < sql.length && sql[j] !== '\n') j++;
      } else if (c === '/' && sql[i + 1] === '*' && sql[i + 2] !== '!' && !(sql[i + 2] === 'M' && sql[i + 3] === '!')) {
        const end = sql.indexOf('*/', i + 2);
        j = end < 0 ? sql.length : end + 2;
      } else if (c === '?') {
        while (j < sql.length && sql[j] === '?') j++;
        const run = j - i;
        if (run > 2 || vi >= values.length) { out += sql.slice(i, j); i = j; continue; }
        out += run === 2 ? sqlEscapeId(values[vi++]) : mysqlPlaceholder(values[vi++], params, tz);
        i = j;
        continue;
      }
      out += sql.slice(i, j);
      i = j;
    }
    return { sql: out, params: params };
  }

  // ----- results, cast as the packages' default type casting does -----
  function mysqlError(e, sql) {
    const server = typeof e.errno === 'number';
    const err = new Error(server && e.code ? e.code + ': ' + e.message : e.message);
    if (e.code) { err.code = e.code; err.errno = server ? e.errno : e.code; }
    if (server) { err.sqlMessage = e.message; err.sqlState = e.sqlState; err.index = 0; }
    if (sql !== undefined) err.sql = sql;
    err.fatal = !!e.fatal;
    return err;
  }
  function mysqlCast(value, field, o) {
    if (value === null || value === undefined) return null;
    if (value && value.type === 'Buffer' && Array.isArray(value.data)) return Buffer.from(value.data);
    switch (field.type) {
      case 7: case 10: case 12: {
        const ds = o.dateStrings;
        if (ds === true || (Array.isArray(ds) && ds.indexOf(field.typeName) >= 0)) return value;
        return mysqlDate(String(value), o.timezone);
      }
      case 8: {
        const n = Number(value);
        if (o.supportBigNumbers && (o.bigNumberStrings || n >= 9007199254740992 || n <= -9007199254740992)) return String(value);
        return n;
      }
      case 246: {
        if (o.mysql2 && !o.decimalNumbers) return String(value);
        const n = Number(value);
        if (o.supportBigNumbers && (o.bigNumberStrings || n >= 9007199254740992 || n <= -9007199254740992)) return String(value);
        return n;
      }
      case 245:
        if (o.mysql2 && o.jsonStrings !== true) { try { return JSON.parse(value); } catch (e) { return value; } }
        return value;
      default:
        return value;
    }
  }
  function mysqlField(f) {
    return { name: f.name, orgName: f.name, type: f.type, typeName: f.typeName, length: f.typeName === 'BOOLEAN' ? 1 : undefined, protocol41: true };
  }
  function mysqlResults(r, o, typeCast) {
    if (!r.rows) {
      const ok = { fieldCount: 0, affectedRows: r.affectedRows, insertId: r.insertId, serverStatus: 2, warningCount: 0, message: '', protocol41: true, changedRows: r.changedRows };
      if (o.mysql2) { delete ok.warningCount; delete ok.message; delete ok.protocol41; ok.info = ''; ok.warningStatus = 0; }
      return { results: ok, fields: undefined };
    }
    const fields = r.fields.map(mysqlField);
    const rows = r.rows.map((row) => {
      const out = {};
      for (let i = 0; i < fields.length; i++) {
        const f = fields[i], raw = row[f.name];
        if (typeof typeCast === 'function') {
          const field = {
            name: f.name, type: MYSQL_TYPE_NAMES[f.type] || 'STRING', length: f.length, db: '', table: '',
            string() { return raw === null || raw === undefined ? null : raw.type === 'Buffer' ? Buffer.from(raw.data).toString() : String(raw); },
            buffer() { return raw === null || raw === undefined ? null : raw.type === 'Buffer' ? Buffer.from(raw.data) : Buffer.from(String(raw)); },
            geometry() { return null; },
          };
          out[f.name] = typeCast(field, () => mysqlCast(raw, f, o));
        } else if (typeCast === false) {
          out[f.name] = raw === null || raw === undefined ? null : raw.type === 'Buffer' ? Buffer.from(raw.data) : String(raw);
        } else {
          out[f.name] = mysqlCast(raw, f, o);
        }
      }
      return out;
    });
    return { results: rows, fields: fields };
  }

  // The connection options a script gave (an object, or a mysql:// URL as npm's parseUrl reads).
  function mysqlConfig(config) {
    if (typeof config === 'string') {
      const u = new URL(config);
      const c = { host: u.hostname, port: u.port ? Number(u.port) : undefined, user: decodeURIComponent(u.username || ''),
        password: decodeURIComponent(u.password || ''), database: decodeURIComponent(u.pathname.replace(/^\//, '')) };
      u.searchParams.forEach((v, k) => { try { c[k] = JSON.parse(v); } catch (e) { c[k] = v; } });
      config = c;
    }
    config = Object.assign({}, config || {});
    if (config.socketPath) throw new Error('mysql: connections over a socket file are not available to scripts; give host and port');
    let host = String(config.host || 'localhost');
    if (host.indexOf(':') >= 0 && host[0] !== '[') host = '[' + host + ']';
    const port = Number(config.port) || 3306;
    const user = config.user === undefined || config.user === null ? '' : String(config.user);
    const password = config.password === undefined || config.password === null ? '' : String(config.password);
    const auth = user || password ? encodeURIComponent(user) + (password ? ':' + encodeURIComponent(password) : '') + '@' : '';
    const database = config.database ? encodeURIComponent(String(config.database)) : '';
    const options = {
      timezone: config.timezone || 'local', dateStrings: config.dateStrings || false,
      supportBigNumbers: !!config.supportBigNumbers, bigNumberStrings: !!config.bigNumberStrings,
      decimalNumbers: !!config.decimalNumbers, jsonStrings: !!config.jsonStrings,
      typeCast: config.typeCast === undefined ? true : config.typeCast,
    };
    return {
      url: 'mysql://' + auth + host + ':' + port + '/' + database, options: options,
      shown: { host: String(config.host || 'localhost'), port: port, user: user, database: config.database },
    };
  }

  // Runs one query; the answer is {err, results, fields}, never thrown.
  function mysqlRun(target, sql, values, queryOptions) {
    const o = Object.assign({}, target._options, queryOptions || {}, { mysql2: target._mysql2 });
    let expanded;
    try {
      expanded = mysqlExpand(sql, values, o.timezone);
      const answer = JSON.parse(gh.mysql(target._url, expanded.sql, JSON.stringify(expanded.params)));
      if (answer.error) return { err: mysqlError(answer.error, expanded.sql) };
      return mysqlResults(answer.ok, o, o.typeCast);
    } catch (e) {
      return { err: e };
    }
  }
  function mysqlEmitter(sql) {
    const handlers = {};
    const q = {
      sql: sql,
      on(ev, fn) { (handlers[ev] = handlers[ev] || []).push(fn); return q; },
      once(ev, fn) { return q.on(ev, fn); },
      _emit(ev) { const args = Array.prototype.slice.call(arguments, 1); for (const fn of handlers[ev] || []) fn.apply(q, args); return (handlers[ev] || []).length > 0; },
      stream() { return q; },
    };
    return q;
  }
  // The package's query(sql | {sql, values, …}, values?, cb?) on a connection or pool.
  function mysqlQuery(target, sql, values, cb) {
    let options = {};
    if (typeof sql === 'function') { cb = sql; sql = undefined; }
    else if (sql && typeof sql === 'object') {
      options = sql;
      sql = options.sql;
      if (typeof values === 'function') { cb = values; values = options.values; }
      else if (values === undefined) values = options.values;
    } else if (typeof values === 'function') { cb = values; values = undefined; }
    const queryOptions = {};
    for (const k of ['typeCast', 'dateStrings', 'supportBigNumbers', 'bigNumberStrings', 'timezone']) {
      if (options[k] !== undefined) queryOptions[k] = options[k];
    }
    const answer = sql === undefined ? { err: new TypeError('mysql: a query needs its SQL') } : mysqlRun(target, sql, values, queryOptions);
    const q = mysqlEmitter(sql);
    defer(() => {
      if (answer.err) {
        if (typeof cb === 'function') cb(answer.err);
        else if (!q._emit('error', answer.err)) reportUncaught(answer.err);
      } else {
        if (answer.fields) q._emit('fields', answer.fields, 0);
        if (Array.isArray(answer.results)) { for (const row of answer.results) q._emit('result', row, 0); }
        else q._emit('result', answer.results, 0);
        if (typeof cb === 'function') cb(null, answer.results, answer.fields);
      }
      q._emit('end');
    });
    return q;
  }
  function mysqlCallbackOf(options, cb) { return typeof options === 'function' ? options : cb; }
  function mysqlCheck(target, cb) {
    const answer = mysqlRun(target, 'SELECT 1', []);
    defer(() => cb(answer.err || null));
    return answer.err;
  }
  let mysqlThreads = 0;
  class MysqlConnection {
    constructor(config, mysql2) {
      const c = mysqlConfig(config);
      Object.defineProperty(this, '_url', { value: c.url, enumerable: false });
      this._options = c.options;
      this._mysql2 = !!mysql2;
      this.config = c.shown;
      this.state = 'disconnected';
      this.threadId = null;
    }
    // Connections are opened and pooled by the server; with a callback, connect checks that the
    // database answers, so a bad password is reported here as the package does.
    connect(options, cb) {
      cb = mysqlCallbackOf(options, cb);
      this.state = 'authenticated';
      this.threadId = this.threadId || ++mysqlThreads;
      if (typeof cb === 'function' && mysqlCheck(this, cb)) this.state = 'disconnected';
    }
    query(sql, values, cb) { return mysqlQuery(this, sql, values, cb); }
    ping(options, cb) { cb = mysqlCallbackOf(options, cb); if (typeof cb === 'function') mysqlCheck(this, cb); }
    beginTransaction(options, cb) {
      cb = mysqlCallbackOf(options, cb);
      const err = new Error('mysql: transactions are not supported: each query runs on a pooled connection of its own');
      err.code = 'ER_NOT_SUPPORTED_YET';
      if (typeof cb === 'function') defer(() => cb(err)); else throw err;
    }
    commit(options, cb) { cb = mysqlCallbackOf(options, cb); if (typeof cb === 'function') defer(() => cb(null)); }
    rollback(options, cb) { cb = mysqlCallbackOf(options, cb); if (typeof cb === 'function') defer(() => cb(null)); }
    end(options, cb) { cb = mysqlCallbackOf(options, cb); this.state = 'disconnected'; if (typeof cb === 'function') defer(() => cb(null)); }
    destroy() { this.state = 'disconnected'; }
    release() {}
    pause() {}
    resume() {}
    on() { return this; }
    once() { return this; }
    removeListener() { return this; }
    escape(v) { return sqlEscape(v, false, this._options.timezone); }
    escapeId(v) { return sqlEscapeId(v); }
    format(sql, values) { return sqlFormat(sql, values, false, this._options.timezone); }
  }
  class MysqlPool {
    constructor(config, mysql2) {
      const c = mysqlConfig(config);
      Object.defineProperty(this, '_url', { value: c.url, enumerable: false });
      Object.defineProperty(this, '_config', { value: config, enumerable: false });
      this._options = c.options;
      this._mysql2 = !!mysql2;
      this.config = { connectionConfig: c.shown, connectionLimit: (config && config.connectionLimit) || 10 };
    }
    getConnection(cb) {
      const conn = new MysqlConnection(this._config, this._mysql2);
      conn.state = 'authenticated';
      conn.threadId = ++mysqlThreads;
      const answer = mysqlRun(this, 'SELECT 1', []);
      defer(() => (answer.err ? cb(answer.err) : cb(null, conn)));
    }
    query(sql, values, cb) { return mysqlQuery(this, sql, values, cb); }
    end(cb) { if (typeof cb === 'function') defer(() => cb(null)); }
    on() { return this; }
    once() { return this; }
    escape(v) { return sqlEscape(v, false, this._options.timezone); }
    escapeId(v) { return sqlEscapeId(v); }
    format(sql, values) { return sqlFormat(sql, values, false, this._options.timezone); }
  }

  // mysql2's promise wrappers: query/execute resolve to [results, fields].
  function mysqlPromised(target) {
    const call = (sql, values) => new Promise((resolve, reject) => {
      target.query(sql, values, (err, results, fields) => (err ? reject(err) : resolve([results, fields])));
    });
    const wrapped = {
      query: call,
      execute: call,
      end: () => Promise.resolve(),
      destroy: () => target.destroy && target.destroy(),
      release: () => undefined,
      on() { return wrapped; },
      escape: (v) => target.escape(v),
      escapeId: (v) => target.escapeId(v),
      format: (s, v) => target.format(s, v),
      beginTransaction: () => new Promise((resolve, reject) => target.beginTransaction ? target.beginTransaction((e) => (e ? reject(e) : resolve())) : resolve()),
      commit: () => Promise.resolve(),
      rollback: () => Promise.resolve(),
      ping: () => new Promise((resolve, reject) => mysqlCheck(target, (e) => (e ? reject(e) : resolve()))),
      connection: target,
      pool: target,
    };
    if (target instanceof MysqlPool) {
      wrapped.getConnection = () => new Promise((resolve, reject) => target.getConnection((e, c) => (e ? reject(e) : resolve(mysqlPromised(c)))));
    }
    return wrapped;
  }

  function makeMysql(mysql2) {
    const mysql = function mysql(config) { return new MysqlConnection(config, mysql2); };
    mysql.createConnection = (config) => new MysqlConnection(config, mysql2);
    mysql.createPool = (config) => new MysqlPool(config, mysql2);
    mysql.format = (sql, values, stringifyObjects, tz) => sqlFormat(sql, values, stringifyObjects, tz);
    mysql.escape = (v, stringifyObjects, tz) => sqlEscape(v, stringifyObjects, tz);
    mysql.escapeId = (v, forbidQualified) => sqlEscapeId(v, forbidQualified);
    mysql.raw = (sql) => ({ toSqlString: () => String(sql) });
    mysql.Types = Object.assign({}, MYSQL_TYPES);
    return mysql;
  }
  const mysql = makeMysql(false);
  const mysql2 = makeMysql(true);
  MysqlConnection.prototype.execute = function (sql, values, cb) { return mysqlQuery(this, sql, values, cb); };
  MysqlPool.prototype.execute = MysqlConnection.prototype.execute;
  MysqlConnection.prototype.promise = function () { return mysqlPromised(this); };
  MysqlPool.prototype.promise = MysqlConnection.prototype.promise;
  const mysql2Promise = {
    createConnection: (config) => {
      const c = new MysqlConnection(config, true);
      const answer = mysqlRun(c, 'SELECT 1', []);
      c.state = 'authenticated';
      return answer.err ? Promise.reject(answer.err) : Promise.resolve(mysqlPromised(c));
    },
    createPool: (config) => mysqlPromised(new MysqlPool(config, true)),
    format: mysql2.format, escape: mysql2.escape, escapeId: mysql2.escapeId, raw: mysql2.raw, Types: mysql2.Types,
  };

  // ----- require -----
  const modules = {
    pg: pg,
    bcrypt: bcrypt,
    bcryptjs: bcrypt,
    mysql: mysql,
    mysql2: mysql2,
    'mysql2/promise': mysql2Promise,
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
  // The oldest Auth0 templates use these without `require`: `postgres(conString, cb)` is
  // pg.connect, `bcrypt` the bcrypt module.
  Object.assign(globalThis, {
    postgres: function postgres(conString, cb) { return pg.connect(conString, cb); },
    bcrypt: bcrypt,
  });
})();
