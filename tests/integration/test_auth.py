"""API keys over real Redis and moto: who may call which route, revocation, rate limits."""

from __future__ import annotations

import re

import httpx
import pytest

from conftest import ApiClient, Configure, MakeKey, corpus
from imagepipe.apikeys import Scope

OPEN = {"/healthz"}
SOME_ID = "0" * 32


def protected_operations() -> list[tuple[str, str]]:
    """Every (method, path) of the app behind a key, with sample path parameters."""
    from app import app

    found: list[tuple[str, str]] = []
    for template, operations in app.openapi()["paths"].items():
        if template not in OPEN:
            path = re.sub(r"\{[^}]+\}", lambda m: SOME_ID if m.group(0) == "{image_id}" else "x", template)
            found.extend((method.upper(), path) for method in sorted(operations))
    return found


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code, response.text


@pytest.mark.parametrize(("method", "path"), protected_operations())
async def test_every_route_but_health_refuses_a_request_without_a_key(
    api_client: ApiClient, method: str, path: str
) -> None:
    response = await api_client(None).request(method, path)
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "key",
    ["nope", "ip_0123456789abcdef_" + "A" * 43, "Bearer", "ip_" + "x" * 60],
    ids=["garbage", "well-formed-unknown", "word", "prefix-only"],
)
async def test_an_unknown_key_is_unauthorized(api_client: ApiClient, key: str) -> None:
    assert_error(await api_client(key).get("/images"), 401, "unauthorized")


async def test_a_key_with_a_wrong_secret_is_unauthorized(api_client: ApiClient, make_key: MakeKey) -> None:
    real = make_key().key
    forged = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    assert_error(await api_client(forged).get("/images"), 401, "unauthorized")


async def test_x_api_key_header_works_like_bearer(api_client: ApiClient, make_key: MakeKey) -> None:
    key = make_key("acme", [Scope.IMAGES_READ]).key
    response = await api_client(None).get("/images", headers={"X-API-Key": key})
    assert response.status_code == 200, response.text


async def test_a_key_in_x_api_key_wins_over_authorization(api_client: ApiClient, make_key: MakeKey) -> None:
    # behind the JWT authorizer Authorization carries the token, not a key: the key in X-API-Key is the one checked
    key = make_key("acme", [Scope.IMAGES_READ]).key
    headers = {"Authorization": "Bearer not-an-imagepipe-key", "X-API-Key": key}
    response = await api_client(None).get("/images", headers=headers)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("scopes", "method", "path"),
    [
        ([Scope.IMAGES_READ], "POST", "/images/uploads"),
        ([Scope.IMAGES_READ], "DELETE", f"/images/{SOME_ID}"),
        ([Scope.IMAGES_READ], "POST", f"/images/{SOME_ID}/reprocess"),
        ([Scope.IMAGES_WRITE], "GET", "/images"),
        ([Scope.IMAGES_WRITE], "GET", f"/images/{SOME_ID}"),
        ([Scope.IMAGES_READ, Scope.IMAGES_WRITE], "GET", "/queue"),
        ([Scope.IMAGES_READ, Scope.IMAGES_WRITE], "GET", "/keys"),
        ([Scope.IMAGES_READ, Scope.IMAGES_WRITE], "POST", "/keys"),
        ([Scope.IMAGES_READ, Scope.IMAGES_WRITE], "DELETE", "/keys/0123456789abcdef"),
        ([Scope.IMAGES_READ], "POST", "/webhooks"),
        ([Scope.IMAGES_WRITE], "GET", "/webhooks"),
        ([Scope.IMAGES_READ], "DELETE", "/webhooks/wh_0123456789abcdef"),
        ([Scope.IMAGES_READ], "POST", "/webhooks/wh_0123456789abcdef/redeliver"),
    ],
)
async def test_a_key_without_the_scope_is_forbidden(
    api_client: ApiClient, make_key: MakeKey, scopes: list[Scope], method: str, path: str
) -> None:
    client = api_client(make_key("acme", scopes).key)
    assert_error(await client.request(method, path, json={}), 403, "forbidden")


async def test_upload_needs_images_write(api_client: ApiClient, make_key: MakeKey) -> None:
    photo = corpus("images", "baseline", "hopper.jpg").read_bytes()
    files = {"file": ("hopper.jpg", photo, "image/jpeg")}
    reader = api_client(make_key("acme", [Scope.IMAGES_READ]).key)
    assert_error(await reader.post("/images", files=files), 403, "forbidden")
    writer = api_client(make_key("acme", [Scope.IMAGES_WRITE]).key)
    assert (await writer.post("/images", files=files)).status_code == 202


async def test_an_admin_makes_lists_and_revokes_keys(api: httpx.AsyncClient, api_client: ApiClient) -> None:
    made = await api.post("/keys", json={"tenant": "acme", "scopes": ["images:read"], "name": "ci"})
    assert made.status_code == 201, made.text
    new = made.json()
    assert new["tenant"] == "acme" and new["scopes"] == ["images:read"]
    assert new["key"].startswith("ip_") and len(new["key"]) >= 3 + 43
    holder = api_client(new["key"])
    assert (await holder.get("/images")).status_code == 200

    listing = await api.get("/keys")
    assert listing.status_code == 200
    assert new["key"] not in listing.text and "hash" not in listing.text
    mine = [k for k in listing.json()["items"] if k["key_id"] == new["key_id"]]
    assert mine == [
        {
            "key_id": new["key_id"],
            "tenant": "acme",
            "scopes": ["images:read"],
            "name": "ci",
            "created_at": mine[0]["created_at"],
            "revoked_at": None,
            "local": False,
        }
    ]

    assert (await api.delete(f"/keys/{new['key_id']}")).status_code == 204
    assert_error(await holder.get("/images"), 401, "unauthorized")  # at once, no cache to wait out
    revoked = [k for k in (await api.get("/keys")).json()["items"] if k["key_id"] == new["key_id"]]
    assert revoked[0]["revoked_at"] is not None
    assert_error(await api.delete("/keys/0123456789abcdef"), 404, "not_found")


@pytest.mark.parametrize(
    "body",
    [
        {"tenant": "Acme Corp", "scopes": ["admin"]},
        {"tenant": "acme", "scopes": []},
        {"tenant": "acme", "scopes": ["root"]},
    ],
    ids=["bad-tenant", "no-scope", "unknown-scope"],
)
async def test_a_key_request_out_of_bounds_is_refused(api: httpx.AsyncClient, body: dict[str, object]) -> None:
    assert_error(await api.post("/keys", json=body), 422, "invalid_request")


async def test_the_local_key_works_in_local_mode_only(
    api_client: ApiClient, make_key: MakeKey, configure: Configure
) -> None:
    local = make_key("local", [Scope.ADMIN], local=True).key
    assert (await api_client(local).get("/queue")).status_code == 200
    configure(IMAGEPIPE_LOCAL_MODE="false")
    from api.services import get_services

    get_services.cache_clear()
    assert_error(await api_client(local).get("/queue"), 401, "unauthorized")
    assert (await api_client(make_key().key).get("/queue")).status_code == 200


async def test_health_details_need_an_admin_key(
    api: httpx.AsyncClient, api_client: ApiClient, make_key: MakeKey
) -> None:
    bare = await api_client(None).get("/healthz")
    assert bare.json() == {"status": bare.json()["status"]}
    reader = await api_client(make_key("acme", [Scope.IMAGES_READ]).key).get("/healthz")
    assert set(reader.json()) == {"status"}
    detailed = await api.get("/healthz")
    assert {"redis", "dynamodb", "s3_uploads"} <= set(detailed.json()["checks"])


async def test_a_key_over_its_rate_gets_429_with_retry_after(
    api_client: ApiClient, make_key: MakeKey, configure: Configure
) -> None:
    configure(IMAGEPIPE_RATE_LIMIT_PER_MINUTE="3")
    busy, other = api_client(make_key().key), api_client(make_key().key)
    for _ in range(3):
        assert (await busy.get("/images")).status_code == 200
    refused = await busy.get("/images")
    assert_error(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert (await other.get("/images")).status_code == 200  # the limit is per key


async def test_without_redis_the_rate_limit_fails_open(
    api_client: ApiClient, make_key: MakeKey, configure: Configure
) -> None:
    from processes import free_port

    configure(IMAGEPIPE_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", IMAGEPIPE_REDIS_RETRIES="0")
    response = await api_client(make_key().key).get(f"/images/{SOME_ID}")
    assert_error(response, 404, "not_found")  # answered from DynamoDB, not refused for want of a counter


async def test_api_answers_carry_nosniff_and_no_store(api: httpx.AsyncClient, api_client: ApiClient) -> None:
    for response in (await api.get("/images"), await api_client(None).get("/images"), await api.get("/openapi.json")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"


async def test_a_method_the_route_lacks_is_405_naming_the_ones_it_has(api: httpx.AsyncClient) -> None:
    response = await api.put("/healthz")
    assert (response.status_code, response.json()["error"]["code"]) == (405, "method_not_allowed")
    assert response.headers["Allow"] == "GET"
