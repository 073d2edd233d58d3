// Gatehouse's runtime for Auth0 rules: calls `function (user, context, callback)` with the
// `auth0` object rules know (a Management API client limited to the user logging in, whose
// metadata updates are collected and written once after the last rule) and calls back with
// the user and context the rule handed on, so the next rule gets them.
(function runRule(rule, user, context, meta, callback) {
  'use strict';
  const updates = { app_metadata: {}, user_metadata: {} };
  const update = (field) => (id, metadata) => new Promise((resolve, reject) => {
    const target = id && typeof id === 'object' ? id.id : id;
    if (String(target) !== meta.user_id) {
      reject(new Error('auth0.users in a rule may update only the user logging in'));
      return;
    }
    if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
      reject(new TypeError(field + ' must be an object'));
      return;
    }
    Object.assign(updates[field], JSON.parse(JSON.stringify(metadata)));
    resolve(Object.assign({}, user, { [field]: metadata }));
  });
  globalThis.auth0 = Object.freeze({
    accessToken: '',
    domain: meta.domain,
    baseUrl: 'https://' + meta.domain + '/api/v2',
    users: Object.freeze({
      updateAppMetadata: update('app_metadata'),
      updateUserMetadata: update('user_metadata'),
    }),
  });
  if (typeof rule !== 'function') {
    throw new TypeError('a rule must be a function (user, context, callback)');
  }
  const done = (err, nextUser, nextContext) => {
    if (err) { callback(err); return; }
    callback(null, {
      user: nextUser === undefined ? user : nextUser,
      context: nextContext === undefined ? context : nextContext,
      updates,
    });
  };
  const returned = rule(user, context, done);
  if (returned && typeof returned.then === 'function') returned.then(undefined, (e) => callback(e));
})
