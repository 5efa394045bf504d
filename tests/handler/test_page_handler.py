"""``GET /`` through the template's ApiFunction handler: the page ships with the function and keeps its policy."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from handler.test_api_handler import http_event

from sam import LambdaRuntime, resolve_handler


@pytest.fixture
def runtime() -> Iterator[LambdaRuntime]:
    rt = LambdaRuntime()
    yield rt
    rt.close()


@pytest.fixture
def api_handler(stack_env: dict[str, str]) -> Any:
    handler = resolve_handler("ApiFunction")
    from api import page

    page.rendered.cache_clear()  # the policy names this session's buckets
    return handler


async def test_the_page_comes_from_the_lambda_with_its_policy(
    api_handler: Any, runtime: LambdaRuntime, stack_env: dict[str, str]
) -> None:
    response = await runtime.invoke(api_handler, http_event("GET", "/", key=None))

    assert response["statusCode"] == 200, response
    assert response["headers"]["content-type"].startswith("text/html")
    assert '<input id="files" type="file" multiple>' in response["body"]
    assert "{{config}}" not in response["body"]
    policy = response["headers"]["content-security-policy"]
    assert policy.startswith("default-src 'none'")
    moto = stack_env["AWS_ENDPOINT_URL"]
    assert f"img-src 'self' {moto};" in policy and f"connect-src 'self' {moto};" in policy
    scripts = re.findall(r"<script>", response["body"])
    assert len(scripts) == 1 and len(re.findall(r"'sha256-", policy)) == 2  # the script and the style


async def test_the_favicon_is_answered_without_a_key_or_an_error(api_handler: Any, runtime: LambdaRuntime) -> None:
    response = await runtime.invoke(api_handler, http_event("GET", "/favicon.ico", key=None))

    assert response["statusCode"] == 204, response  # not a 404 in every browser console
