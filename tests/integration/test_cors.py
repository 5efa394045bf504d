"""A browser on an origin nobody listed gets no CORS answer. Deployed with no `CorsAllowOrigins` (the
default), API Gateway answers no preflight itself and passes it to this app, so this is what such a
browser sees there too (tests/template/test_exposure.py holds the template to that)."""

from __future__ import annotations

import httpx


async def test_a_preflight_from_an_unknown_origin_is_not_allowed(api: httpx.AsyncClient) -> None:
    origin = "https://attacker.example"
    preflight = await api.options(
        "/images",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-credentials" not in preflight.headers
    simple = await api.get("/healthz", headers={"Origin": origin})
    assert "access-control-allow-origin" not in simple.headers
