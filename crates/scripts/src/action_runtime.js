// Gatehouse's runtime for actions: calls the handler an action exports for its trigger
// (`exports.onExecutePostLogin = async (event, api) => {…}`) with Auth0's `api` object, and
// calls back with what the handler asked for (claims, scopes, metadata, a denial). Nothing
// the handler does reaches the host but through these commands.
(function runAction(exported, event, meta, callback) {
  'use strict';
  const out = {
    deny: null, id_claims: {}, access_claims: {}, add_scopes: [], remove_scopes: [],
    app_metadata: {}, user_metadata: {}, primary_user: null,
  };
  const keyOf = (name, what) => {
    if (typeof name !== 'string' || name.length === 0) throw new TypeError(what + ' must be a non-empty string');
    return name;
  };
  // Values cross into the host as JSON: what JSON cannot hold (functions, undefined) is dropped.
  const plain = (value) => (value === undefined ? null : JSON.parse(JSON.stringify(value)));
  const api = {};
  if (meta.trigger === 'pre-user-registration') {
    api.access = {
      deny(reason, userMessage) {
        if (out.deny === null) {
          out.deny = {
            code: 'access_denied',
            reason: reason === undefined ? 'Sign-up denied' : String(reason),
            user_message: userMessage === undefined ? null : String(userMessage),
          };
        }
        return api;
      },
    };
    api.user = {
      setAppMetadata(name, value) { out.app_metadata[keyOf(name, 'the metadata key')] = plain(value); return api; },
      setUserMetadata(name, value) { out.user_metadata[keyOf(name, 'the metadata key')] = plain(value); return api; },
    };
  } else if (meta.trigger === 'post-user-registration' || meta.trigger === 'post-change-password') {
    // Notifications: the event happened; only the cache is there to use.
  } else if (meta.trigger === 'credentials-exchange') {
    api.access = {
      deny(code, reason) {
        if (out.deny === null) out.deny = { code: String(code), reason: reason === undefined ? String(code) : String(reason) };
        return api;
      },
    };
    api.accessToken = {
      setCustomClaim(name, value) { out.access_claims[keyOf(name, 'the claim name')] = plain(value); return api; },
    };
  } else {
    api.access = {
      // The first denial of a run is the one the user hears about.
      deny(reason) {
        if (out.deny === null) out.deny = { code: 'access_denied', reason: reason === undefined ? 'Access denied' : String(reason) };
        return api;
      },
    };
    api.idToken = {
      setCustomClaim(name, value) { out.id_claims[keyOf(name, 'the claim name')] = plain(value); return api; },
    };
    api.accessToken = {
      setCustomClaim(name, value) { out.access_claims[keyOf(name, 'the claim name')] = plain(value); return api; },
      addScope(scope) {
        scope = keyOf(scope, 'the scope');
        out.remove_scopes = out.remove_scopes.filter((s) => s !== scope);
        if (!out.add_scopes.includes(scope)) out.add_scopes.push(scope);
        return api;
      },
      removeScope(scope) {
        scope = keyOf(scope, 'the scope');
        out.add_scopes = out.add_scopes.filter((s) => s !== scope);
        if (!out.remove_scopes.includes(scope)) out.remove_scopes.push(scope);
        return api;
      },
    };
    api.user = {
      setAppMetadata(name, value) { out.app_metadata[keyOf(name, 'the metadata key')] = plain(value); return api; },
      setUserMetadata(name, value) { out.user_metadata[keyOf(name, 'the metadata key')] = plain(value); return api; },
    };
    api.authentication = {
      setPrimaryUser(userId) {
        userId = keyOf(userId, 'the primary user id');
        if (userId.length > 128) throw new RangeError('the primary user id is longer than 128 characters');
        if (out.primary_user !== null && out.primary_user !== userId) throw new Error('setPrimaryUser may be called once per login');
        out.primary_user = userId;
        return api;
      },
      recordMethod() { return api; },
    };
    // Redirects (Auth0's contract): the browser goes to `url?…&state=<state>`, the external
    // page sends it back to /continue with that state, and the same action's
    // onContinuePostLogin runs. Tokens for the trip are HS256 JWTs bound to the state.
    const b64url = (buf) => buf.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    const sign = (secret, data) => b64url(require('crypto').createHmac('sha256', secret).update(data).digest());
    const nowSeconds = () => Math.floor(Date.now() / 1000);
    out.redirect = null;
    api.redirect = {
      canRedirect() { return meta.can_redirect === true; },
      sendUserTo(url, options) {
        if (meta.can_redirect !== true) throw new Error('this login cannot be redirected (' + event.transaction.protocol + ')');
        if (typeof url !== 'string' || !(/^https?:\/\//i.test(url) || /^\/[^/]/.test(url))) throw new TypeError('sendUserTo needs an absolute http(s) URL, or a path on this server such as /u/profile');
        out.redirect = { url: url, query: plain((options && options.query) || {}) };
        return api;
      },
      encodeToken(options) {
        if (!options || typeof options.secret !== 'string' || options.secret.length === 0) throw new TypeError('encodeToken needs a secret');
        const now = nowSeconds();
        const claims = Object.assign({}, plain(options.payload || {}), {
          iss: meta.domain, sub: event.user.user_id, iat: now,
          exp: now + (typeof options.expiresInSeconds === 'number' ? options.expiresInSeconds : 900),
          ip: event.request.ip, state: meta.state,
        });
        const head = b64url(Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })));
        const body = b64url(Buffer.from(JSON.stringify(claims)));
        return head + '.' + body + '.' + sign(options.secret, head + '.' + body);
      },
      validateToken(options) {
        if (!options || typeof options.secret !== 'string' || options.secret.length === 0) throw new TypeError('validateToken needs a secret');
        const name = options.tokenParameterName || 'session_token';
        const request = event.request || {};
        const token = (request.body && request.body[name]) || (request.query && request.query[name]);
        if (typeof token !== 'string') throw new Error('no ' + name + ' came back to /continue');
        const parts = token.split('.');
        if (parts.length !== 3) throw new Error('the ' + name + ' is not a JWT');
        let header, claims;
        try {
          header = JSON.parse(Buffer.from(parts[0].replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString());
          claims = JSON.parse(Buffer.from(parts[1].replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString());
        } catch (e) { throw new Error('the ' + name + ' cannot be read'); }
        if (header.alg !== 'HS256') throw new Error('the ' + name + ' must be signed with HS256');
        const expected = sign(options.secret, parts[0] + '.' + parts[1]);
        let diff = expected.length ^ parts[2].length;
        for (let i = 0; i < Math.min(expected.length, parts[2].length); i++) diff |= expected.charCodeAt(i) ^ parts[2].charCodeAt(i);
        if (diff !== 0) throw new Error('the ' + name + ' has an invalid signature');
        if (typeof claims.exp !== 'number' || claims.exp <= nowSeconds()) throw new Error('the ' + name + ' has expired');
        if (typeof meta.resumed_state !== 'string' || claims.state !== meta.resumed_state) throw new Error('the ' + name + ' belongs to another login');
        return claims;
      },
    };
    api.multifactor = { enable() { return api; } };
  }
  // api.cache: this action's entries, kept on this server between runs (Auth0: at most 20
  // entries of 4 KB, each at most 24 hours).
  const store = (globalThis.global.__actionCache = globalThis.global.__actionCache || {});
  const now = () => Date.now();
  api.cache = {
    get(key) {
      const entry = store[key];
      if (!entry) return undefined;
      if (entry.expires_at <= now()) { delete store[key]; return undefined; }
      return { value: entry.value, expires_at: entry.expires_at };
    },
    set(key, value, options) {
      key = String(key);
      value = String(value);
      if (value.length > 4096) return { type: 'error', code: 'VALUE_TOO_LARGE' };
      const live = Object.keys(store).filter((k) => store[k].expires_at > now());
      if (!(key in store) && live.length >= 20) {
        const oldest = live.sort((a, b) => store[a].expires_at - store[b].expires_at)[0];
        delete store[oldest];
      }
      const day = 24 * 60 * 60 * 1000;
      let expires = now() + day;
      if (options && typeof options.ttl === 'number') expires = now() + Math.min(options.ttl, day);
      if (options && typeof options.expires_at === 'number') expires = Math.min(options.expires_at, now() + day);
      store[key] = { value, expires_at: expires };
      return { type: 'success', record: { value, expires_at: expires } };
    },
    delete(key) { delete store[String(key)]; return { type: 'success' }; },
  };
  const handler = exported && exported[meta.handler];
  if (typeof handler !== 'function') {
    // An action without this trigger's handler does nothing here, as in Auth0.
    callback(null, out);
    return;
  }
  Object.freeze(event.secrets || {});
  let returned;
  try {
    returned = handler(event, api);
  } catch (e) {
    callback(e);
    return;
  }
  Promise.resolve(returned).then(() => callback(null, out), (e) => callback(e === undefined ? new Error('the action rejected without a reason') : e));
})
