"""Role-based access control through Auth0's official Python SDK (auth0-python v6), unchanged.

Covers Gatehouse's core RBAC endpoints as the SDK's Fern-generated management client calls
them, and what they do to a user's access token:

* roles: ``roles.create / list / get / update / delete`` -- a duplicate name surfaces as the
  SDK's ``ConflictError`` (409, on every one of its retries), a missing role as
  ``NotFoundError`` (404 ``inexistent_role``); ``name_filter`` is case-insensitive, Unicode
  included, and the offset pager walks every page;
* a role's permissions (``roles.permissions.add / list / delete``: 201 / 200 / 200) and users
  (``roles.users.assign``, and ``roles.users.list`` with checkpoint paging -- ``take``, then
  ``from_=<next>`` as the SDK's pager does -- over 60 users, each seen exactly once);
* a user's roles (``users.roles.assign / list / delete``, 204) and permissions
  (``users.permissions.create / list / delete``, 201 / 204), each permission listed with its
  ``sources`` (``DIRECT`` and one ``ROLE`` entry per role giving it);
* tokens: an API with ``enforce_policies`` and ``token_dialect: access_token_authz``; a user
  logs in with the password-realm grant (``GetToken.login``), and the access token -- its
  RS256 signature checked by the SDK's ``AsymmetricSignatureVerifier`` against the server's
  JWKS -- carries as ``scope`` the requested scopes the user holds and as ``permissions`` all
  the user's permissions on that API.

Data is random on every run (role and user names with non-ASCII letters, random ids), so the
module can share the session's server with the other compat tests.
"""

from __future__ import annotations

import re
import secrets
import uuid
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from auth0.authentication import GetToken
from auth0.authentication.token_verifier import AsymmetricSignatureVerifier
from auth0.management import Auth0
from auth0.management.core.api_error import ApiError
from auth0.management.core.parse_error import ParsingError
from auth0.management.errors import BadRequestError, ConflictError, NotFoundError

DB_CONNECTION = "Username-Password-Authentication"
PASSWORD_REALM_GRANT = "http://auth0.com/oauth/grant-type/password-realm"
PASSWORD = "Correct-Horse-9-battery"
RUN = uuid.uuid4().hex[:10]
ROLE_ID = re.compile(r"^rol_[A-Za-z0-9]{16}$")
ROLE_USERS = 60  # enough for several checkpoint pages
CHECKPOINT_TAKE = 25  # 60 users: pages of 25, 25, 10


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def get_token(server) -> Dict[str, Any]:
    auth = GetToken(server.host, server.client_id, client_secret=server.client_secret, protocol="http")
    return auth.client_credentials(audience=server.audience)


def unique_email(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}@rbac.compat.example.com"


def random_tag() -> str:
    """A random, letters-only marker (name_filter matches substrings)."""
    return "".join(secrets.choice("abcdefghijkmnpqrstuvwxyz") for _ in range(10))


def perm(api_identifier: str, name: str) -> Dict[str, str]:
    return {"resource_server_identifier": api_identifier, "permission_name": name}


def as_dict(model) -> Dict[str, Any]:
    """A Fern/pydantic model as a plain dict, extra (undeclared) fields included."""
    return model.dict()


class Recorder:
    """Records every request the SDK's httpx client sends and the status it got back."""

    def __init__(self) -> None:
        self.exchanges: List[Tuple[str, str, Dict[str, List[str]], int]] = []

    def on_response(self, response: httpx.Response) -> None:
        url = response.request.url
        self.exchanges.append(
            (
                response.request.method,
                url.path,
                parse_qs(url.query.decode() if isinstance(url.query, bytes) else str(url.query)),
                response.status_code,
            )
        )

    def client(self) -> httpx.Client:
        return httpx.Client(timeout=30, event_hooks={"response": [self.on_response]})


def recorded_client(server, token: str) -> Tuple[Auth0, Recorder]:
    recorder = Recorder()
    return (
        Auth0(base_url=server.management_url, token=token, httpx_client=recorder.client()),
        recorder,
    )


# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mgmt_token(gatehouse) -> str:
    token = get_token(gatehouse)
    scopes = set(token["scope"].split())
    for needed in ("read:roles", "create:roles", "update:roles", "delete:roles",
                   "read:role_members", "create:role_members", "delete:role_members",
                   "read:resource_servers", "create:resource_servers"):
        assert needed in scopes, needed
    return token["access_token"]


@pytest.fixture(scope="module")
def mgmt(gatehouse, mgmt_token) -> Auth0:
    return Auth0(base_url=gatehouse.management_url, token=mgmt_token)


class Cleanup:
    """Deletes what a test created, whatever happened to the test."""

    def __init__(self, mgmt: Auth0) -> None:
        self.mgmt = mgmt
        self.roles: List[str] = []
        self.users: List[str] = []
        self.apis: List[str] = []
        self.clients: List[str] = []

    def run(self) -> None:
        for delete, ids in (
            (self.mgmt.roles.delete, self.roles),
            (self.mgmt.users.delete, self.users),
            (self.mgmt.clients.delete, self.clients),
            (self.mgmt.resource_servers.delete, self.apis),
        ):
            for ident in ids:
                try:
                    delete(ident)
                except ApiError:
                    pass


@pytest.fixture
def cleanup(mgmt):
    c = Cleanup(mgmt)
    yield c
    c.run()


@pytest.fixture(scope="module")
def stock_api(mgmt):
    """An API defining four permissions, with a non-ASCII name and scope descriptions."""
    api = mgmt.resource_servers.create(
        identifier=f"https://stock-{RUN}.rbac.compat.example.com/api",
        name=f"Gestion des stocks – 在庫 {RUN}",
        scopes=[
            {"value": "read:stock", "description": "Lire le stock 📦"},
            {"value": "write:stock", "description": "Écrire le stock"},
            {"value": "delete:stock", "description": "Supprimer des articles"},
            {"value": "audit:stock", "description": "Prüfen (Inventur)"},
        ],
        enforce_policies=True,
        token_dialect="access_token_authz",
    )
    assert api.identifier and api.id
    yield api
    try:
        mgmt.resource_servers.delete(api.id)
    except ApiError:
        pass


@pytest.fixture(scope="module")
def role_members(mgmt):
    """ROLE_USERS database users with non-ASCII names; removed after the module."""
    created = []
    try:
        for i in range(ROLE_USERS):
            user = mgmt.users.create(
                connection=DB_CONNECTION,
                email=unique_email(f"member{i:02d}"),
                password=PASSWORD,
                name=f"Zoë Ångström-Øster {i:02d} ✓",
            )
            created.append(user)
        yield created
    finally:
        for user in created:
            try:
                mgmt.users.delete(user.user_id)
            except ApiError:
                pass


# --------------------------------------------------------------------------
# 1. roles: CRUD, 409, 404, name_filter, paging
# --------------------------------------------------------------------------


def test_role_crud(gatehouse, mgmt_token, mgmt, cleanup):
    tag = random_tag()
    name = f"Rédacteur en chef 編集長 {tag}"
    description = "Relit et publie les articles — 記事を公開する"

    role = mgmt.roles.create(name=name, description=description)
    cleanup.roles.append(role.id)
    assert ROLE_ID.match(role.id), role.id
    assert role.name == name
    assert role.description == description

    fetched = mgmt.roles.get(role.id)
    assert (fetched.id, fetched.name, fetched.description) == (role.id, name, description)

    # Auth0 answers a created role with 200, not 201.
    other = mgmt.roles.with_raw_response.create(name=f"Lectrice {tag}")
    cleanup.roles.append(other.data.id)
    assert other.status_code == 200
    assert ROLE_ID.match(other.data.id) and other.data.id != role.id
    assert other.data.description is None

    # A taken name: 409 on every attempt (the SDK retries 409s), and no second role.
    client, recorder = recorded_client(gatehouse, mgmt_token)
    with pytest.raises(ConflictError) as excinfo:
        client.roles.create(name=name, description="un doublon")
    err = excinfo.value
    assert err.status_code == 409
    assert err.body["statusCode"] == 409
    assert err.body["error"] == "Conflict"
    assert err.body["message"] == "The role already exists."
    assert isinstance(err.body.get("errorCode"), str) and err.body["errorCode"]
    statuses = [e[3] for e in recorder.exchanges]
    assert statuses and all(s == 409 for s in statuses), statuses
    same_name = mgmt.roles.list(name_filter=tag, include_totals=True)
    assert sorted(r.id for r in same_name.items) == sorted([role.id, other.data.id])

    # Renaming onto a taken name is a conflict too. (The SDK's roles.update declares no 409,
    # so it surfaces as the generic ApiError rather than ConflictError.)
    with pytest.raises(ApiError) as excinfo:
        mgmt.roles.update(other.data.id, name=name)
    assert excinfo.value.status_code == 409
    assert excinfo.value.body["message"] == "The role already exists."
    assert mgmt.roles.get(other.data.id).name == f"Lectrice {tag}"

    # PATCH name and description; a PATCH of one field keeps the other.
    renamed = mgmt.roles.update(role.id, name=f"Rédactrice en chef 編集長 {tag}", description="Nouvelle")
    assert renamed.id == role.id
    assert renamed.name == f"Rédactrice en chef 編集長 {tag}"
    assert renamed.description == "Nouvelle"
    only_desc = mgmt.roles.update(role.id, description="Seulement la description ✍")
    assert only_desc.name == renamed.name
    assert only_desc.description == "Seulement la description ✍"
    got = mgmt.roles.get(role.id)
    assert (got.name, got.description) == (renamed.name, "Seulement la description ✍")

    # DELETE: 200, empty body; the SDK returns None.
    deleted = mgmt.roles.with_raw_response.delete(role.id)
    assert deleted.status_code == 200
    assert deleted.data is None
    assert deleted._response.content == b""

    # 404 inexistent_role: NotFoundError where the SDK declares a 404 (get, delete), the
    # generic ApiError where it does not (update).
    for call, error in (
        (lambda: mgmt.roles.get(role.id), NotFoundError),
        (lambda: mgmt.roles.delete(role.id), NotFoundError),
        (lambda: mgmt.roles.get("rol_" + secrets.token_hex(8)), NotFoundError),
        (lambda: mgmt.roles.update(role.id, description="x"), ApiError),
    ):
        with pytest.raises(error) as excinfo:
            call()
        assert excinfo.value.status_code == 404
        assert excinfo.value.body == {
            "statusCode": 404,
            "error": "Not Found",
            "message": "Role not found.",
            "errorCode": "inexistent_role",
        }
    # The name is free again.
    again = mgmt.roles.create(name=name)
    cleanup.roles.append(again.id)
    assert again.id != role.id


def test_role_list_name_filter_and_paging(mgmt, cleanup):
    tag = random_tag()
    names = [
        f"Équipe {tag} Nord",
        f"ÉQUIPE {tag.upper()} Sud",
        f"équipe {tag} Est 東",
        f"Gruppe {tag} Größe",
        f"Команда {tag} Запад",
    ]
    roles = {}
    for n in names:
        r = mgmt.roles.create(name=n, description=f"desc {n}")
        cleanup.roles.append(r.id)
        roles[r.id] = n
    decoy = mgmt.roles.create(name=f"Équipe {random_tag()} sans rapport")
    cleanup.roles.append(decoy.id)

    # Case-insensitive substring, ASCII and non-ASCII alike.
    by_tag = mgmt.roles.list(name_filter=tag.upper(), per_page=50, include_totals=True)
    assert {r.id for r in by_tag.items} == set(roles)
    assert by_tag.response.total == len(names)
    for r in by_tag.items:
        assert r.name == roles[r.id] and r.description == f"desc {roles[r.id]}"

    equipe = mgmt.roles.list(name_filter=f"ÉQUIPE {tag}", per_page=50, include_totals=True)
    assert {r.name for r in equipe.items} == set(names[:3])
    cyrillic = mgmt.roles.list(name_filter=f"команда {tag}", per_page=50, include_totals=True)
    assert [r.name for r in cyrillic.items] == [names[4]]
    assert mgmt.roles.list(name_filter=f"nothing-{tag}", include_totals=True).items == []

    # Offset paging through the SDK pager: 5 roles, 2 per page.
    first = mgmt.roles.list(name_filter=tag, per_page=2, page=0, include_totals=True)
    assert first.response.start == 0 and first.response.limit == 2
    assert first.response.total == len(names)
    assert len(first.items) == 2
    pages = list(first.iter_pages())
    non_empty = [p for p in pages if p.items]
    assert [len(p.items) for p in non_empty] == [2, 2, 1]
    assert [p.response.start for p in non_empty] == [0, 2, 4]
    assert all(p.response.total == len(names) for p in pages)
    seen = [r.id for p in pages for r in p.items]
    assert len(seen) == len(set(seen)) == len(names)
    assert set(seen) == set(roles)

    # include_totals=false is Auth0's bare array, which this SDK method cannot parse.
    with pytest.raises(ParsingError) as excinfo:
        mgmt.roles.list(name_filter=tag, include_totals=False)
    assert isinstance(excinfo.value.body, list)
    assert {r["id"] for r in excinfo.value.body} == set(roles)


# --------------------------------------------------------------------------
# 2. a role's permissions and users
# --------------------------------------------------------------------------


def test_role_permissions(mgmt, cleanup, stock_api):
    ident = stock_api.identifier
    role = mgmt.roles.create(name=f"Magasinier·ère {random_tag()}", description="stock")
    cleanup.roles.append(role.id)
    assert mgmt.roles.permissions.list(role.id).items == []

    added = mgmt.roles.permissions.with_raw_response.add(
        role.id,
        permissions=[perm(ident, "read:stock"), perm(ident, "write:stock"), perm(ident, "audit:stock")],
    )
    assert added.status_code == 201
    assert added.data is None and added._response.content == b""
    # Adding one it already has changes nothing.
    mgmt.roles.permissions.add(role.id, permissions=[perm(ident, "read:stock")])

    listed = mgmt.roles.permissions.list(role.id, per_page=50, include_totals=True)
    assert listed.response.total == 3
    by_name = {p.permission_name: p for p in listed.items}
    assert set(by_name) == {"read:stock", "write:stock", "audit:stock"}
    for p in listed.items:
        assert p.resource_server_identifier == ident
        assert p.resource_server_name == stock_api.name
    assert by_name["read:stock"].description == "Lire le stock 📦"
    assert by_name["write:stock"].description == "Écrire le stock"
    assert by_name["audit:stock"].description == "Prüfen (Inventur)"

    paged = mgmt.roles.permissions.list(role.id, per_page=2, page=0, include_totals=True)
    seen = [p.permission_name for page in paged.iter_pages() for p in page.items]
    assert sorted(seen) == ["audit:stock", "read:stock", "write:stock"]

    removed = mgmt.roles.permissions.with_raw_response.delete(
        role.id, permissions=[perm(ident, "write:stock"), perm(ident, "audit:stock")]
    )
    assert removed.status_code == 200
    assert removed.data is None and removed._response.content == b""
    assert [p.permission_name for p in mgmt.roles.permissions.list(role.id).items] == ["read:stock"]

    # A scope the API does not define: 400, nothing added.
    with pytest.raises(BadRequestError) as excinfo:
        mgmt.roles.permissions.add(role.id, permissions=[perm(ident, "launch:rockets")])
    assert excinfo.value.status_code == 400
    assert excinfo.value.body["statusCode"] == 400
    assert "launch:rockets" in excinfo.value.body["message"]
    # An API that does not exist: 404.
    with pytest.raises(NotFoundError) as excinfo:
        mgmt.roles.permissions.add(
            role.id, permissions=[perm(f"https://missing-{RUN}.example.com/", "read:stock")]
        )
    assert excinfo.value.status_code == 404
    # A role that does not exist: 404.
    missing = "rol_" + secrets.token_hex(8)
    with pytest.raises(NotFoundError):
        mgmt.roles.permissions.list(missing)
    with pytest.raises(NotFoundError):
        mgmt.roles.permissions.add(missing, permissions=[perm(ident, "read:stock")])
    assert [p.permission_name for p in mgmt.roles.permissions.list(role.id).items] == ["read:stock"]


@pytest.fixture(scope="module")
def populated_role(mgmt, role_members):
    """A role holding all ROLE_USERS users, assigned through roles.users.assign."""
    role = mgmt.roles.create(name=f"Bénévoles 志愿者 {random_tag()}", description="60 membres")
    try:
        half = ROLE_USERS // 2
        first = mgmt.roles.users.with_raw_response.assign(
            role.id, users=[u.user_id for u in role_members[:half]]
        )
        assert first.status_code == 200
        assert first.data is None and first._response.content == b""
        mgmt.roles.users.assign(role.id, users=[u.user_id for u in role_members[half:]])
        # Assigning users the role already has is harmless.
        mgmt.roles.users.assign(role.id, users=[role_members[0].user_id, role_members[-1].user_id])
        yield role
    finally:
        try:
            mgmt.roles.delete(role.id)
        except ApiError:
            pass


def _check_members(items, role_members) -> None:
    ids = [u.user_id for u in items]
    assert len(ids) == ROLE_USERS, f"{len(ids)} users listed"
    assert len(set(ids)) == len(ids), "a user was listed more than once"
    by_id = {u.user_id: u for u in role_members}
    assert set(ids) == set(by_id)
    for u in items:
        created = by_id[u.user_id]
        assert u.email == created.email
        assert u.name == created.name
        assert u.picture == created.picture


def test_role_users_checkpoint_paging_with_sdk_defaults(gatehouse, mgmt_token, populated_role, role_members):
    """``roles.users.list(id, take=...)`` as the SDK sends it, following ``next`` to the end.

    auth0-python 6.8.0 sends ``include_totals=true`` on every ``roles.users.list`` call
    (its default; the pager repeats it on each follow-up), together with ``take`` and, after
    the first page, ``from``. Its response model is ``{users, next}`` and its pager stops
    when ``next`` is absent.
    """
    client, recorder = recorded_client(gatehouse, mgmt_token)
    first = client.roles.users.list(populated_role.id, take=CHECKPOINT_TAKE)
    pages = list(first.iter_pages())
    items = [u for p in pages for u in p.items]
    _check_members(items, role_members)

    sizes = [len(p.items) for p in pages]
    assert sizes == [25, 25, 10], sizes
    assert [p.response.next is not None for p in pages] == [True, True, False]

    # The SDK followed the server's `next`: each follow-up's `from` is the previous `next`.
    gets = [e for e in recorder.exchanges if e[0] == "GET"]
    assert len(gets) == len(pages)
    assert "from" not in gets[0][2]
    for page, exchange in zip(pages, gets[1:]):
        assert exchange[2]["from"] == [page.response.next]
        assert exchange[2]["take"] == [str(CHECKPOINT_TAKE)]
    assert all(e[3] == 200 for e in gets)


def test_role_users_checkpoint_paging_without_include_totals(mgmt, populated_role, role_members):
    """The same walk with the SDK's ``include_totals`` left out of the query (``None``).

    Isolates the paging itself from the ``include_totals`` query parameter the SDK adds by
    default (see the test above): every user exactly once, in pages of ``take``.
    """
    seen = []
    pages = 0
    next_from: Optional[str] = None
    while True:
        page = mgmt.roles.users.list(
            populated_role.id, include_totals=None, take=CHECKPOINT_TAKE, from_=next_from
        )
        pages += 1
        assert len(page.items) <= CHECKPOINT_TAKE
        seen.extend(page.items)
        next_from = page.response.next
        if not next_from:
            break
        assert pages < 10, "checkpoint paging does not end"
    assert pages == 3
    _check_members(seen, role_members)


def test_role_users_errors(mgmt, cleanup, role_members):
    role = mgmt.roles.create(name=f"Vide {random_tag()}")
    cleanup.roles.append(role.id)
    empty = mgmt.roles.users.list(role.id, include_totals=None, take=10)
    assert empty.items == [] and empty.response.next is None

    # One unknown user: 404, and nobody is added.
    with pytest.raises(NotFoundError) as excinfo:
        mgmt.roles.users.assign(
            role.id, users=[role_members[0].user_id, "auth0|" + secrets.token_hex(12)]
        )
    assert excinfo.value.body["message"] == "One or more of the users do not exist."
    assert mgmt.roles.users.list(role.id, include_totals=None, take=10).items == []

    with pytest.raises(NotFoundError):
        mgmt.roles.users.assign("rol_" + secrets.token_hex(8), users=[role_members[0].user_id])


# --------------------------------------------------------------------------
# 3. a user's roles and permissions
# --------------------------------------------------------------------------


def _sources(permission) -> List[Dict[str, str]]:
    return sorted(as_dict(permission)["sources"], key=lambda s: (s["source_type"], s["source_id"]))


def test_user_roles_and_permissions(mgmt, cleanup, stock_api):
    ident = stock_api.identifier
    tag = random_tag()
    user = mgmt.users.create(
        connection=DB_CONNECTION, email=unique_email("holder"), password=PASSWORD, name="Søren Ørsted"
    )
    cleanup.users.append(user.user_id)
    keeper = mgmt.roles.create(name=f"Gardien·ne 守衛 {tag}", description="lit et écrit")
    viewer = mgmt.roles.create(name=f"Observateur {tag}")
    cleanup.roles += [keeper.id, viewer.id]
    mgmt.roles.permissions.add(keeper.id, permissions=[perm(ident, "read:stock"), perm(ident, "write:stock")])

    assert mgmt.users.roles.list(user.user_id).items == []
    assert mgmt.users.permissions.list(user.user_id).items == []

    assigned = mgmt.users.roles.with_raw_response.assign(user.user_id, roles=[keeper.id, viewer.id])
    assert assigned.status_code == 204 and assigned.data is None

    roles = mgmt.users.roles.list(user.user_id, per_page=50, include_totals=True)
    assert roles.response.total == 2
    assert {(r.id, r.name) for r in roles.items} == {(keeper.id, keeper.name), (viewer.id, viewer.name)}
    assert {r.description for r in roles.items} == {"lit et écrit", None}

    # Direct permissions: one only direct, one also given by the role.
    created = mgmt.users.permissions.with_raw_response.create(
        user.user_id, permissions=[perm(ident, "audit:stock"), perm(ident, "write:stock")]
    )
    assert created.status_code == 201 and created.data is None

    listed = mgmt.users.permissions.list(user.user_id, per_page=50, include_totals=True)
    assert listed.response.total == 3
    by_name = {p.permission_name: p for p in listed.items}
    assert set(by_name) == {"read:stock", "write:stock", "audit:stock"}
    for p in listed.items:
        assert p.resource_server_identifier == ident
        assert p.resource_server_name == stock_api.name
    assert by_name["audit:stock"].description == "Prüfen (Inventur)"
    direct = {"source_id": "", "source_name": "", "source_type": "DIRECT"}
    via_keeper = {"source_id": keeper.id, "source_name": keeper.name, "source_type": "ROLE"}
    assert _sources(by_name["read:stock"]) == [via_keeper]
    assert _sources(by_name["audit:stock"]) == [direct]
    assert _sources(by_name["write:stock"]) == [direct, via_keeper]

    # A second role giving read:stock adds a second ROLE source.
    mgmt.roles.permissions.add(viewer.id, permissions=[perm(ident, "read:stock")])
    read = {p.permission_name: p for p in mgmt.users.permissions.list(user.user_id).items}["read:stock"]
    via_viewer = {"source_id": viewer.id, "source_name": viewer.name, "source_type": "ROLE"}
    assert _sources(read) == sorted([via_keeper, via_viewer], key=lambda s: s["source_id"])

    # Removing the keeper role leaves the direct permissions and the viewer's.
    removed = mgmt.users.roles.with_raw_response.delete(user.user_id, roles=[keeper.id])
    assert removed.status_code == 204 and removed.data is None
    assert [r.id for r in mgmt.users.roles.list(user.user_id).items] == [viewer.id]
    after = {p.permission_name: p for p in mgmt.users.permissions.list(user.user_id).items}
    assert set(after) == {"read:stock", "write:stock", "audit:stock"}
    assert _sources(after["read:stock"]) == [via_viewer]
    assert _sources(after["write:stock"]) == [direct]

    # Removing direct permissions: 204.
    dropped = mgmt.users.permissions.with_raw_response.delete(
        user.user_id, permissions=[perm(ident, "audit:stock"), perm(ident, "write:stock")]
    )
    assert dropped.status_code == 204 and dropped.data is None
    assert [p.permission_name for p in mgmt.users.permissions.list(user.user_id).items] == ["read:stock"]

    # Deleting a role takes it from the user.
    mgmt.roles.delete(viewer.id)
    assert mgmt.users.roles.list(user.user_id).items == []
    assert mgmt.users.permissions.list(user.user_id).items == []

    # Unknown role, unknown scope: refused, nothing assigned.
    with pytest.raises(NotFoundError) as excinfo:
        mgmt.users.roles.assign(user.user_id, roles=["rol_" + secrets.token_hex(8)])
    assert excinfo.value.body["message"] == "One or more of the roles do not exist."
    with pytest.raises(BadRequestError):
        mgmt.users.permissions.create(user.user_id, permissions=[perm(ident, "launch:rockets")])
    assert mgmt.users.roles.list(user.user_id).items == []
    assert mgmt.users.permissions.list(user.user_id).items == []


# --------------------------------------------------------------------------
# 4. tokens: enforce_policies and access_token_authz
# --------------------------------------------------------------------------


def _login(server, app, email: str, audience: str, scope: str) -> Dict[str, Any]:
    auth = GetToken(server.host, app.client_id, client_secret=app.client_secret, protocol="http", timeout=30)
    return auth.login(username=email, password=PASSWORD, realm=DB_CONNECTION, audience=audience, scope=scope)


def _verified_claims(server, token: str) -> Dict[str, Any]:
    verifier = AsymmetricSignatureVerifier(f"{server.base_url}/.well-known/jwks.json")
    return verifier.verify_signature(token)


def test_user_token_scope_and_permissions(gatehouse, mgmt, cleanup):
    tag = random_tag()
    api = mgmt.resource_servers.create(
        identifier=f"https://warehouse-{tag}.rbac.compat.example.com/",
        name=f"Entrepôt 倉庫 {tag}",
        scopes=[
            {"value": "read:stock", "description": "Lire"},
            {"value": "write:stock", "description": "Écrire"},
            {"value": "delete:stock", "description": "Supprimer"},
            {"value": "audit:stock", "description": "Prüfen"},
        ],
        enforce_policies=True,
        token_dialect="access_token_authz",
    )
    cleanup.apis.append(api.id)
    assert api.enforce_policies is True and api.token_dialect == "access_token_authz"
    ident = api.identifier

    app = mgmt.clients.create(
        name=f"rbac-login-{tag}", app_type="regular_web", grant_types=[PASSWORD_REALM_GRANT]
    )
    cleanup.clients.append(app.client_id)
    assert app.client_id and app.client_secret
    conn = next(c for c in mgmt.connections.list(name=DB_CONNECTION).items if c.name == DB_CONNECTION)
    # Auth0's default (tenant flag enable_client_connections): a new app is enabled on the
    # connection. Enable it explicitly if this server is configured otherwise.
    if app.client_id not in (conn.enabled_clients or []):
        mgmt.connections.update(conn.id, enabled_clients=[*(conn.enabled_clients or []), app.client_id])

    email = unique_email("login")
    user = mgmt.users.create(connection=DB_CONNECTION, email=email, password=PASSWORD, name="Aurélie Čapek")
    cleanup.users.append(user.user_id)
    role = mgmt.roles.create(name=f"Préparateur {tag}")
    cleanup.roles.append(role.id)
    mgmt.roles.permissions.add(role.id, permissions=[perm(ident, "read:stock"), perm(ident, "write:stock")])
    mgmt.users.roles.assign(user.user_id, roles=[role.id])
    mgmt.users.permissions.create(user.user_id, permissions=[perm(ident, "audit:stock")])

    requested = "openid profile read:stock delete:stock audit:stock"
    tokens = _login(gatehouse, app, email, ident, requested)
    assert tokens["token_type"] == "Bearer"
    claims = _verified_claims(gatehouse, tokens["access_token"])
    aud = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    assert ident in aud
    assert claims["iss"] == f"{gatehouse.base_url}/"
    assert claims["sub"] == user.user_id
    assert claims["azp"] == app.client_id
    # enforce_policies: the requested scopes the user holds (delete:stock is not held,
    # write:stock is held but not requested); the OIDC scopes stay.
    assert set(claims["scope"].split()) == {"openid", "profile", "read:stock", "audit:stock"}
    # access_token_authz: every permission the user holds on this API, requested or not.
    assert sorted(claims["permissions"]) == ["audit:stock", "read:stock", "write:stock"]
    if "scope" in tokens:
        assert set(tokens["scope"].split()) == set(claims["scope"].split())

    # Changes apply from the next token: without the role only the direct permission is left.
    mgmt.users.roles.delete(user.user_id, roles=[role.id])
    claims = _verified_claims(gatehouse, _login(gatehouse, app, email, ident, requested)["access_token"])
    assert set(claims["scope"].split()) == {"openid", "profile", "audit:stock"}
    assert claims["permissions"] == ["audit:stock"]

    # Policies off, default dialect: every requested scope the API defines, no permissions claim.
    mgmt.resource_servers.update(api.id, enforce_policies=False, token_dialect="access_token")
    claims = _verified_claims(gatehouse, _login(gatehouse, app, email, ident, requested)["access_token"])
    assert set(claims["scope"].split()) == {"openid", "profile", "read:stock", "delete:stock", "audit:stock"}
    assert "permissions" not in claims
