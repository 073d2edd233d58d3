"""The user's own Management API token through Auth0's official Python SDK (auth0-python v6).

A single-page application's user logs in through the hosted login page -- ``/authorize``
with code + PKCE, driven over plain HTTP with ``requests`` as a browser would (the SDK has no
browser) -- for the Management API's audience, and the SDK exchanges the code
(``GetToken.authorization_code_pkce``). The token carries only the ``current_user`` scopes
asked for (never ``read:users``, which the application's client grant holds), and the SDK's
management client (``auth0.management.Auth0``, unchanged) reads the user
(``users.get``), changes its ``user_metadata`` (``users.update``), and is refused
(``ForbiddenError``, 403 ``unowned_resource``) for another user's id, for ``app_metadata`` and
for the user list. The password-realm grant (``GetToken.login``) gives the same narrow token,
as Auth0's migration guide shows it.

Data is random on every run (Unicode names, random addresses), so the module shares the
session's server with the other compat tests.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
import uuid
from typing import Any, Dict
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
import requests

from auth0.authentication import GetToken
from auth0.management import Auth0
from auth0.management.errors import ForbiddenError

DB_CONNECTION = "Username-Password-Authentication"
PASSWORD = "Correct-Horse-9-battery"
CALLBACK = "https://spa.compat.example.com/callback"
OWN_SCOPES = "read:current_user update:current_user_metadata update:current_user_identities"


def unique_email(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}@own-token.compat.example.com"


def admin(server) -> Auth0:
    token = GetToken(
        server.host, server.client_id, client_secret=server.client_secret, protocol="http"
    ).client_credentials(audience=server.audience)
    return Auth0(base_url=server.management_url, token=token["access_token"])


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', page)
    assert match, f"no {name} field in {page[:500]}"
    return html.unescape(match.group(1))


def login_with_pkce(server, client_id: str, email: str, scope: str) -> Dict[str, Any]:
    """The hosted login over HTTP (a browser's cookies, its redirects), then the SDK's exchange."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(12)
    browser = requests.Session()
    query = urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": CALLBACK,
        "scope": scope, "audience": server.audience, "state": state,
        "code_challenge": challenge, "code_challenge_method": "S256",
    })
    r = browser.get(f"{server.base_url}/authorize?{query}", allow_redirects=False, timeout=30)
    assert r.status_code == 302, r.text
    r = browser.get(urljoin(server.base_url, r.headers["location"]), timeout=30)
    assert r.status_code == 200 and 'action="/u/login"' in r.text, r.text
    r = browser.post(
        f"{server.base_url}/u/login",
        data={"state": hidden(r.text, "state"), "_csrf": hidden(r.text, "_csrf"),
              "username": email, "password": PASSWORD},
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code == 302, r.text
    location = r.headers["location"]
    assert location.startswith(CALLBACK), location
    answer = parse_qs(urlsplit(location).query)
    assert answer["state"] == [state]
    auth = GetToken(server.host, client_id, protocol="http", timeout=30)
    return auth.authorization_code_pkce(verifier, answer["code"][0], CALLBACK)


@pytest.fixture(scope="module")
def setting(gatehouse):
    mgmt = admin(gatehouse)
    spa = mgmt.clients.create(
        name=f"Żółw SPA {uuid.uuid4().hex[:6]}",
        app_type="spa",
        token_endpoint_auth_method="none",
        callbacks=[CALLBACK],
        grant_types=["authorization_code", "refresh_token", "password",
                     "http://auth0.com/oauth/grant-type/password-realm"],
    )
    # The application itself may read users: its user's token still may not.
    mgmt.client_grants.create(client_id=spa.client_id, audience=gatehouse.audience, scope=["read:users"])
    me = mgmt.users.create(connection=DB_CONNECTION, email=unique_email("me"), password=PASSWORD,
                           name="Małgorzata Ńiemczyk", user_metadata={"język": "pl"},
                           app_metadata={"plan": "złoty"}, email_verified=True)
    other = mgmt.users.create(connection=DB_CONNECTION, email=unique_email("other"), password=PASSWORD,
                              name="Ørjan Ødegård", email_verified=True)
    yield mgmt, spa, me, other
    for user in (me, other):
        mgmt.users.delete(user.user_id)
    mgmt.clients.delete(spa.client_id)


def test_the_sdk_reads_and_updates_the_users_own_profile(gatehouse, setting):
    mgmt, spa, me, other = setting
    tokens = login_with_pkce(gatehouse, spa.client_id, me.email, f"openid {OWN_SCOPES} read:users")
    assert set(tokens["scope"].split()) == {"openid", *OWN_SCOPES.split()}
    own = Auth0(base_url=gatehouse.management_url, token=tokens["access_token"])

    user = own.users.get(me.user_id)
    assert user.email == me.email and user.name == "Małgorzata Ńiemczyk"

    updated = own.users.update(me.user_id, user_metadata={"motyw": "ciemny", "język": None})
    assert updated.user_metadata == {"motyw": "ciemny"}
    assert mgmt.users.get(me.user_id).user_metadata == {"motyw": "ciemny"}

    with pytest.raises(ForbiddenError) as refused:
        own.users.get(other.user_id)
    assert refused.value.body["errorCode"] == "unowned_resource"
    assert refused.value.body["message"] == "User to be acted on does not match subject in bearer token."
    with pytest.raises(ForbiddenError) as refused:
        own.users.update(other.user_id, user_metadata={"x": "y"})
    assert refused.value.body["errorCode"] == "unowned_resource"
    with pytest.raises(ForbiddenError) as refused:
        own.users.update(me.user_id, app_metadata={"plan": "platynowy"})
    assert refused.value.body["errorCode"] == "insufficient_scope"
    with pytest.raises(ForbiddenError):
        own.users.list(include_totals=True)
    assert mgmt.users.get(me.user_id).app_metadata == {"plan": "złoty"}
    assert not mgmt.users.get(other.user_id).user_metadata


def test_the_password_realm_grant_gives_the_same_narrow_token(gatehouse, setting):
    _, spa, me, other = setting
    tokens = GetToken(gatehouse.host, spa.client_id, protocol="http", timeout=30).login(
        username=me.email, password=PASSWORD, realm=DB_CONNECTION,
        audience=gatehouse.audience, scope="read:current_user read:users",
    )
    assert tokens["scope"] == "read:current_user"
    own = Auth0(base_url=gatehouse.management_url, token=tokens["access_token"])
    assert own.users.get(me.user_id).user_id == me.user_id
    with pytest.raises(ForbiddenError):
        own.users.get(other.user_id)
