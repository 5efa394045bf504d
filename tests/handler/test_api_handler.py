"""``sam local invoke ApiFunction``, emulated: the template's handler with an HTTP API v2 event."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from typing import Any

import pytest

from conftest import Configure, MakeKey, RunWorker, corpus, load_event
from sam import LambdaRuntime, resolve_handler


def http_event(
    method: str, path: str, *, key: str | None, body: bytes = b"", content_type: str | None = None
) -> dict[str, Any]:
    """The corpus's HTTP API v2 sample, re-aimed at one route, with ``key`` as its bearer token."""
    event = copy.deepcopy(load_event("corpus", "apigw_v2", "apiGatewayProxyV2Event.json"))
    event["routeKey"] = "$default"
    event["rawPath"] = path
    event["rawQueryString"] = ""
    event.pop("queryStringParameters", None)
    event.pop("pathParameters", None)
    event["cookies"] = []
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["path"] = path
    headers = {"host": "api.example.com", "accept": "application/json"}
    if content_type:
        headers["content-type"] = content_type
    if key:
        headers["authorization"] = f"Bearer {key}"
    event["headers"] = headers
    event["body"] = base64.b64encode(body).decode() if body else None
    event["isBase64Encoded"] = bool(body)
    return event


def multipart(filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.fixture
def key(make_key: MakeKey) -> str:
    return make_key().key


@pytest.fixture
def api_handler(stack_env: dict[str, str]) -> Any:
    handler = resolve_handler("ApiFunction")
    from api.observability import metrics

    metrics.clear_metrics()  # a fresh execution environment: nothing left by ASGI tests, which never flush
    return handler


async def test_template_handler_accepts_a_base64_multipart_upload(
    api_handler: Any,
    key: str,
    runtime: LambdaRuntime,
    run_worker: RunWorker,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    body, content_type = multipart("hopper.jpg", corpus("images", "baseline", "hopper.jpg").read_bytes())
    response = await runtime.invoke(
        api_handler, http_event("POST", "/images", key=key, body=body, content_type=content_type)
    )
    assert response["statusCode"] == 202, response
    accepted = json.loads(response["body"])
    assert response["headers"]["location"] == f"/images/{accepted['image_id']}"
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert any(line.get("Enqueued") == [1.0] for line in lines), lines  # an EMF metric, as CloudWatch reads it
    assert any(getattr(r, "image_id", None) == accepted["image_id"] for r in caplog.records)

    await run_worker()

    status = await runtime.invoke(api_handler, http_event("GET", f"/images/{accepted['image_id']}", key=key))
    assert status["statusCode"] == 200
    assert json.loads(status["body"])["status"] == "succeeded"


async def test_template_handler_answers_json_errors(api_handler: Any, key: str, runtime: LambdaRuntime) -> None:
    response = await runtime.invoke(api_handler, http_event("GET", "/images/nope", key=key))
    assert response["statusCode"] == 404
    assert json.loads(response["body"])["error"]["code"] == "not_found"


async def test_template_handler_refuses_a_request_without_a_key(api_handler: Any, runtime: LambdaRuntime) -> None:
    response = await runtime.invoke(api_handler, http_event("GET", "/images", key=None))
    assert response["statusCode"] == 401
    assert response["headers"]["www-authenticate"] == "Bearer"
    assert response["headers"]["x-content-type-options"] == "nosniff"
    assert json.loads(response["body"])["error"]["code"] == "unauthorized"


async def test_template_handler_refuses_a_declared_body_over_the_limit(
    api_handler: Any, runtime: LambdaRuntime
) -> None:
    event = http_event("POST", "/images", key=None, body=b"x", content_type="multipart/form-data; boundary=b")
    event["headers"]["content-length"] = str(10**12)
    response = await runtime.invoke(api_handler, event)
    assert response["statusCode"] == 413
    assert json.loads(response["body"])["error"]["code"] == "too_large"


def through_jwt_authorizer(event: dict[str, Any], **claims: str) -> dict[str, Any]:
    """``event`` as API Gateway passes it on once its JWT authorizer has verified a token with ``claims``."""
    event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": []}}
    return event


async def test_a_jwt_claim_names_the_tenant_when_the_option_is_set(
    configure: Configure,
    api_handler: Any,
    runtime: LambdaRuntime,
    make_key: MakeKey,
    run_worker: RunWorker,
) -> None:
    configure(IMAGEPIPE_JWT_TENANT_CLAIM="org")
    tenant = f"jwt-{uuid.uuid4().hex[:8]}"
    body, content_type = multipart("hopper.jpg", corpus("images", "baseline", "hopper.jpg").read_bytes())
    upload = http_event("POST", "/images", key=None, body=body, content_type=content_type)
    response = await runtime.invoke(api_handler, through_jwt_authorizer(upload, org=tenant, sub="user-1"))
    assert response["statusCode"] == 202, response
    image_id = json.loads(response["body"])["image_id"]
    await run_worker()

    read = through_jwt_authorizer(http_event("GET", f"/images/{image_id}", key=None), org=tenant, sub="user-2")
    record = json.loads((await runtime.invoke(api_handler, read))["body"])
    assert (record["status"], record["tenant"]) == ("succeeded", tenant)
    assert record["source"]["key"].startswith(f"uploads/{tenant}/{image_id}/")
    # read and write, nothing more; and another tenant's token (or the local key) does not see it
    keys = through_jwt_authorizer(http_event("GET", "/keys", key=None), org=tenant)
    assert (await runtime.invoke(api_handler, keys))["statusCode"] == 403
    keys["headers"]["x-api-key"] = make_key().key  # an admin key beside the token: the key's holder
    assert (await runtime.invoke(api_handler, keys))["statusCode"] == 200
    other = through_jwt_authorizer(http_event("GET", f"/images/{image_id}", key=None), org="someone-else")
    assert (await runtime.invoke(api_handler, other))["statusCode"] == 404
    local = http_event("GET", f"/images/{image_id}", key=make_key().key)
    assert (await runtime.invoke(api_handler, local))["statusCode"] == 404
    bad = through_jwt_authorizer(http_event("GET", "/images", key=None), org="../Acme")
    assert (await runtime.invoke(api_handler, bad))["statusCode"] == 401


async def test_jwt_claims_are_ignored_unless_the_option_is_set(api_handler: Any, runtime: LambdaRuntime) -> None:
    event = through_jwt_authorizer(http_event("GET", "/images", key=None), tenant="acme")
    assert (await runtime.invoke(api_handler, event))["statusCode"] == 401
