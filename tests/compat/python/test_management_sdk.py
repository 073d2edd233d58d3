"""Auth0's official Python SDK (auth0-python v6), unchanged, against Gatehouse.

How the v6 SDK is driven over plain http, without touching its internals:

* Tokens: ``auth0.authentication.GetToken(domain, client_id, client_secret=...,
  protocol="http").client_credentials(audience)`` -- ``protocol`` is a public
  constructor argument of every authentication client.
* Management API: ``auth0.management.Auth0(base_url=..., token=...)`` -- the
  Fern-generated client that ``ManagementClient`` wraps. ``ManagementClient``
  itself (and its ``TokenProvider``) hard-code ``https://{domain}``, so it
  cannot reach a plain-http server; ``Auth0`` is the public class that takes a
  ``base_url``. Traffic is observed, where a test needs to, through httpx
  event hooks on an ``httpx.Client`` handed to the documented ``httpx_client``
  argument.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Dict, List, Tuple

import httpx
import pytest

from auth0.authentication import GetToken
from auth0.authentication.exceptions import Auth0Error
from auth0.authentication.token_verifier import AsymmetricSignatureVerifier
from auth0.management import Auth0
from auth0.management.core.api_error import ApiError
from auth0.management.core.parse_error import ParsingError
from auth0.management.errors import (
    ConflictError,
    NotFoundError,
    TooManyRequestsError,
)

DB_CONNECTION = "Username-Password-Authentication"
PASSWORD = "Correct-Horse-9-battery"


# --------------------------------------------------------------------------
# helpers / fixtures
# --------------------------------------------------------------------------


def unique_email(tag: str = "user") -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}@compat.example.com"


def get_token(server) -> Dict[str, Any]:
    auth = GetToken(
        server.host,
        server.client_id,
        client_secret=server.client_secret,
        protocol="http",
    )
    return auth.client_credentials(audience=server.audience)


def management_client(server, token: str, **kwargs) -> Auth0:
    return Auth0(base_url=server.management_url, token=token, **kwargs)


class Recorder:
    """Records every request/response the SDK's httpx client sends/receives."""

    def __init__(self) -> None:
        # (monotonic time, wall time, "request"|"response", method, path, status, headers)
        self.events: List[Tuple[float, float, str, str, str, int, Dict[str, str]]] = []

    def on_request(self, request: httpx.Request) -> None:
        self.events.append(
            (time.monotonic(), time.time(), "request", request.method, request.url.path, 0, {})
        )

    def on_response(self, response: httpx.Response) -> None:
        self.events.append(
            (
                time.monotonic(),
                time.time(),
                "response",
                response.request.method,
                response.request.url.path,
                response.status_code,
                dict(response.headers),
            )
        )

    def client(self) -> httpx.Client:
        return httpx.Client(
            timeout=30,
            event_hooks={"request": [self.on_request], "response": [self.on_response]},
        )

    def responses(self):
        return [e for e in self.events if e[2] == "response"]


@pytest.fixture(scope="session")
def token_response(gatehouse) -> Dict[str, Any]:
    return get_token(gatehouse)


@pytest.fixture(scope="session")
def mgmt(gatehouse, token_response) -> Auth0:
    return management_client(gatehouse, token_response["access_token"])


@pytest.fixture
def new_user(mgmt):
    """A freshly created database user; removed again after the test."""
    email = unique_email()
    created = mgmt.users.create(
        connection=DB_CONNECTION,
        email=email,
        password=PASSWORD,
        user_metadata={"theme": "dark", "prefs": {"lang": "en", "tz": "UTC"}},
        app_metadata={"plan": "free"},
    )
    yield created
    try:
        mgmt.users.delete(created.user_id)
    except ApiError:
        pass


# --------------------------------------------------------------------------
# authentication: client_credentials
# --------------------------------------------------------------------------


def test_client_credentials_token(gatehouse, token_response):
    assert token_response["token_type"] == "Bearer"
    assert isinstance(token_response["expires_in"], int) and token_response["expires_in"] > 0
    scopes = token_response["scope"].split()
    for needed in ("read:users", "create:users", "update:users", "delete:users"):
        assert needed in scopes

    # Verify the RS256 signature against the server's JWKS with the SDK's own
    # verifier, then check the claims Auth0 puts in a Management API token.
    verifier = AsymmetricSignatureVerifier(f"{gatehouse.base_url}/.well-known/jwks.json")
    claims = verifier.verify_signature(token_response["access_token"])
    assert claims["iss"] == f"{gatehouse.base_url}/"
    aud = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    assert gatehouse.audience in aud
    assert claims["sub"] == f"{gatehouse.client_id}@clients"
    assert claims["azp"] == gatehouse.client_id
    assert claims["gty"] == "client-credentials"
    assert claims["exp"] - claims["iat"] == token_response["expires_in"]
    assert set(claims["scope"].split()) == set(scopes)


def test_client_credentials_wrong_secret_is_access_denied(gatehouse):
    auth = GetToken(
        gatehouse.host,
        gatehouse.client_id,
        client_secret="not-the-right-secret-not-the-right-secret",
        protocol="http",
    )
    with pytest.raises(Auth0Error) as excinfo:
        auth.client_credentials(audience=gatehouse.audience)
    # Auth0: 401 {"error":"access_denied","error_description":"Unauthorized"}
    assert excinfo.value.status_code == 401
    assert excinfo.value.error_code == "access_denied"
    assert excinfo.value.message == "Unauthorized"


def test_client_credentials_unknown_audience_is_forbidden(gatehouse):
    auth = GetToken(
        gatehouse.host, gatehouse.client_id, client_secret=gatehouse.client_secret, protocol="http"
    )
    with pytest.raises(Auth0Error) as excinfo:
        auth.client_credentials(audience="https://no-such-api.example.com/")
    # Auth0: 403 {"error":"access_denied","error_description":"Service not found: <aud>"}
    assert excinfo.value.status_code == 403
    assert excinfo.value.error_code == "access_denied"
    assert "Service not found" in excinfo.value.message


# --------------------------------------------------------------------------
# users: create / read / update / list / by-email / delete
# --------------------------------------------------------------------------


def test_create_user(mgmt):
    email = unique_email("MixedCase")
    user = mgmt.users.create(
        connection=DB_CONNECTION,
        email=email,
        password=PASSWORD,
        user_metadata={"theme": "dark"},
        app_metadata={"plan": "free"},
        given_name="Ada",
        family_name="Lovelace",
    )
    try:
        assert user.user_id.startswith("auth0|")
        # Auth0 stores database-connection emails lower-cased.
        assert user.email == email.lower()
        assert user.email_verified is False
        assert user.given_name == "Ada" and user.family_name == "Lovelace"
        assert user.user_metadata == {"theme": "dark"}
        assert user.app_metadata == {"plan": "free"}
        assert user.created_at is not None and user.updated_at is not None
        assert user.identities is not None and len(user.identities) == 1
        identity = user.identities[0]
        assert identity.connection == DB_CONNECTION
        assert identity.provider == "auth0"
        assert identity.is_social is False
        assert user.user_id == f"auth0|{identity.user_id}"
        # The password must never be echoed back.
        assert "password" not in user.dict()
    finally:
        mgmt.users.delete(user.user_id)


def test_get_user(mgmt, new_user):
    fetched = mgmt.users.get(new_user.user_id)
    assert fetched.user_id == new_user.user_id
    assert fetched.email == new_user.email
    assert fetched.user_metadata == {"theme": "dark", "prefs": {"lang": "en", "tz": "UTC"}}
    assert fetched.app_metadata == {"plan": "free"}
    assert fetched.created_at == new_user.created_at
    assert fetched.identities[0].connection == DB_CONNECTION


def test_get_user_fields_filter(mgmt, new_user):
    only = mgmt.users.with_raw_response.get(
        new_user.user_id, fields="user_id,email", include_fields=True
    )
    assert only.status_code == 200
    assert set(only._response.json().keys()) == {"user_id", "email"}
    assert only.data.user_id == new_user.user_id and only.data.email == new_user.email
    assert only.data.user_metadata is None

    without = mgmt.users.with_raw_response.get(
        new_user.user_id, fields="user_metadata,app_metadata", include_fields=False
    )
    body = without._response.json()
    assert "user_metadata" not in body and "app_metadata" not in body
    assert body["user_id"] == new_user.user_id and body["email"] == new_user.email


def test_update_user_metadata_merges_first_level(mgmt, new_user):
    before = mgmt.users.get(new_user.user_id)
    updated = mgmt.users.update(
        new_user.user_id,
        user_metadata={"prefs": {"lang": "fr"}, "newsletter": True},
    )
    expected = {
        "theme": "dark",  # untouched top-level key survives
        "prefs": {"lang": "fr"},  # nested object replaced, not deep-merged ("tz" gone)
        "newsletter": True,  # new key added
    }
    assert updated.user_metadata == expected
    assert updated.app_metadata == {"plan": "free"}  # other metadata untouched
    assert updated.updated_at >= before.updated_at
    # ...and it is what gets stored.
    assert mgmt.users.get(new_user.user_id).user_metadata == expected


def test_update_user_metadata_null_deletes_key(mgmt, new_user):
    updated = mgmt.users.update(new_user.user_id, user_metadata={"theme": None})
    assert updated.user_metadata == {"prefs": {"lang": "en", "tz": "UTC"}}
    assert mgmt.users.get(new_user.user_id).user_metadata == {"prefs": {"lang": "en", "tz": "UTC"}}


def test_update_user_root_attributes(mgmt, new_user):
    updated = mgmt.users.update(new_user.user_id, given_name="Grace", blocked=True)
    assert updated.given_name == "Grace"
    assert updated.blocked is True
    assert updated.user_metadata == {"theme": "dark", "prefs": {"lang": "en", "tz": "UTC"}}
    fetched = mgmt.users.get(new_user.user_id)
    assert fetched.given_name == "Grace" and fetched.blocked is True


def test_list_users_with_totals_and_paging(mgmt):
    created = [
        mgmt.users.create(connection=DB_CONNECTION, email=unique_email(f"page{i}"), password=PASSWORD)
        for i in range(5)
    ]
    try:
        everyone = mgmt.users.list(per_page=100, include_totals=True)
        total = everyone.response.total
        assert total is not None and total >= 5
        assert total == len(everyone.items) == everyone.response.length
        assert everyone.response.start == 0 and everyone.response.limit == 100

        first = mgmt.users.list(
            page=0, per_page=2, include_totals=True, sort="email:1", connection=DB_CONNECTION
        )
        assert first.response.start == 0
        assert first.response.limit == 2
        assert first.response.length == 2 and len(first.items) == 2
        assert first.response.total == total

        second = first.next_page()
        assert second.response.start == 2
        assert second.response.total == total
        assert {u.user_id for u in first.items}.isdisjoint({u.user_id for u in second.items})

        # Walk every page through the SDK pager.
        seen = [u for page in first.iter_pages() for u in page.items]
        ids = [u.user_id for u in seen]
        assert len(ids) == total
        assert len(set(ids)) == len(ids), "pages overlap"
        assert {u.user_id for u in created} <= set(ids)
        emails = [u.email for u in seen]
        assert emails == sorted(emails), "sort=email:1 not honoured across pages"

        descending = mgmt.users.list(per_page=100, include_totals=True, sort="email:-1")
        assert [u.email for u in descending.items] == sorted(emails, reverse=True)

        past_end = mgmt.users.list(page=1000, per_page=2, include_totals=True)
        assert past_end.items == []
        assert past_end.response.length == 0
        assert past_end.response.start == 2000
        assert past_end.response.total == total
    finally:
        for user in created:
            mgmt.users.delete(user.user_id)


def test_list_users_without_totals_is_a_bare_array(mgmt, new_user):
    # Auth0 answers include_totals=false with a bare JSON array. auth0-python
    # 6.8.0's users.list() always parses the {users,total,...} envelope, so
    # the SDK raises ParsingError -- carrying the (correct) array body.
    with pytest.raises(ParsingError) as excinfo:
        mgmt.users.list(per_page=100, include_totals=False)
    body = excinfo.value.body
    assert isinstance(body, list)
    assert new_user.user_id in {u["user_id"] for u in body}

    # Leaving include_totals out entirely must default to false as well.
    with pytest.raises(ParsingError) as excinfo:
        mgmt.users.list(per_page=1, include_totals=None)
    assert isinstance(excinfo.value.body, list) and len(excinfo.value.body) == 1


def test_list_users_fields_filter(mgmt, new_user):
    page = mgmt.users.list(per_page=100, fields="user_id,email", include_fields=True)
    assert page.items
    for user in page.items:
        assert user.user_id and user.email
        assert user.user_metadata is None and user.identities is None and user.created_at is None
    assert new_user.user_id in {u.user_id for u in page.items}


def test_users_by_email(mgmt, new_user):
    found = mgmt.users.list_users_by_email(email=new_user.email)
    assert [u.user_id for u in found] == [new_user.user_id]
    assert found[0].email == new_user.email
    assert found[0].user_metadata == new_user.user_metadata

    assert mgmt.users.list_users_by_email(email=unique_email("nobody")) == []


def test_delete_user_then_get_is_404(mgmt):
    user = mgmt.users.create(connection=DB_CONNECTION, email=unique_email("del"), password=PASSWORD)
    assert mgmt.users.delete(user.user_id) is None

    with pytest.raises(NotFoundError) as excinfo:
        mgmt.users.get(user.user_id)
    err = excinfo.value
    assert err.status_code == 404
    assert err.body == {
        "statusCode": 404,
        "error": "Not Found",
        "message": "The user does not exist.",
        "errorCode": "inexistent_user",
    }
    assert mgmt.users.list_users_by_email(email=user.email) == []


def test_duplicate_email_is_409(gatehouse, token_response, mgmt, new_user):
    # Observe the wire: auth0-python v6 retries 409s (max_retries=2 by default),
    # so every attempt must be a 409 and none may create a second user.
    recorder = Recorder()
    client = management_client(
        gatehouse, token_response["access_token"], httpx_client=recorder.client()
    )
    with pytest.raises(ConflictError) as excinfo:
        client.users.create(
            connection=DB_CONNECTION,
            email=new_user.email.upper(),  # emails are case-insensitive for Auth0 DB users
            password=PASSWORD,
        )
    err = excinfo.value
    assert err.status_code == 409
    assert err.body == {
        "statusCode": 409,
        "error": "Conflict",
        "message": "The user already exists.",
        "errorCode": "auth0_idp_error",
    }
    statuses = [e[5] for e in recorder.responses()]
    assert statuses and all(s == 409 for s in statuses), statuses
    assert [u.user_id for u in mgmt.users.list_users_by_email(email=new_user.email)] == [
        new_user.user_id
    ]


# --------------------------------------------------------------------------
# rate limiting
# --------------------------------------------------------------------------


def test_rate_limit_headers_on_success(mgmt, new_user):
    resp = mgmt.users.with_raw_response.get(new_user.user_id)
    headers = {k.lower(): v for k, v in resp.headers.items()}
    limit = int(headers["x-ratelimit-limit"])
    remaining = int(headers["x-ratelimit-remaining"])
    reset = int(headers["x-ratelimit-reset"])
    assert limit > 0
    assert 0 <= remaining < limit
    now = time.time()
    assert now - 2 <= reset <= now + 3600, "x-ratelimit-reset must be a unix timestamp (seconds)"


def _exhaust_until_429(client: Auth0, recorder: Recorder, max_calls: int = 50) -> None:
    """Make SDK calls until the server has answered at least one 429."""
    for _ in range(max_calls):
        page = client.users.list(per_page=1)  # raises if the SDK gives up
        assert page.response is not None
        if any(e[5] == 429 for e in recorder.responses()):
            return
    pytest.fail(f"no 429 after {max_calls} calls at GATEHOUSE_RATE_LIMIT=2")


def test_sdk_retries_429_honouring_retry_after(gatehouse_rate_limited):
    server = gatehouse_rate_limited
    token = get_token(server)["access_token"]  # /oauth/token is not rate limited
    recorder = Recorder()
    client = management_client(server, token, httpx_client=recorder.client())  # default retries

    _exhaust_until_429(client, recorder)

    events = recorder.events
    idx = next(i for i, e in enumerate(events) if e[2] == "response" and e[5] == 429)
    t_429, wall_429, _, _, path, _, headers = events[idx]
    assert path == "/api/v2/users"
    retry_after = int(headers["retry-after"])
    assert retry_after >= 1
    assert headers["x-ratelimit-limit"] == "2"
    assert headers["x-ratelimit-remaining"] == "0"
    reset = int(headers["x-ratelimit-reset"])
    assert int(wall_429) - 1 <= reset <= wall_429 + retry_after + 1

    # The SDK's next request is the retry; it must wait out Retry-After.
    retry_req = events[idx + 1]
    assert retry_req[2] == "request" and retry_req[4] == "/api/v2/users"
    waited = retry_req[0] - t_429
    assert waited >= retry_after * 0.95, f"retried after {waited:.2f}s, Retry-After was {retry_after}s"
    # ...and the retry (or a later one) succeeded, which is why the call returned.
    after = [e[5] for e in events[idx + 1 :] if e[2] == "response"]
    assert after and after[-1] == 200


def test_sdk_without_retries_surfaces_429_with_reset_info(gatehouse_rate_limited):
    server = gatehouse_rate_limited
    token = get_token(server)["access_token"]
    client = management_client(server, token, max_retries=0)

    err = None
    for _ in range(50):
        try:
            client.users.list(per_page=1)
        except TooManyRequestsError as e:
            err = e
            break
    assert err is not None, "no 429 at GATEHOUSE_RATE_LIMIT=2"
    assert err.status_code == 429
    assert err.body["statusCode"] == 429
    assert err.body["error"] == "Too Many Requests"
    assert err.body["errorCode"] == "too_many_requests"
    assert err.body["message"]
    headers = {k.lower(): v for k, v in err.headers.items()}
    retry_after = int(headers["retry-after"])
    assert retry_after >= 1
    assert headers["x-ratelimit-remaining"] == "0"
    reset = int(headers["x-ratelimit-reset"])
    assert reset >= int(time.time()) - 1

    # Once Retry-After has passed the same call goes through again.
    time.sleep(retry_after)
    assert client.users.list(per_page=1).response is not None
