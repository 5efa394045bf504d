"""One signed webhook POST, SSRF-safe: the URL and every address its host resolves to are checked, the request
goes to the checked address (Host and TLS SNI keep the name, so the certificate is verified against it), no
redirect is followed, timeouts are short and at most a few KiB of the answer are read."""

from __future__ import annotations

import asyncio
import ssl
import time

import httpx

from imagepipe.egress import parse_target, resolve
from imagepipe.errors import DeliveryFailed
from imagepipe.signing import SIGNATURE_HEADER, signature

MAX_ANSWER_BYTES = 4096
USER_AGENT = "imagepipe-webhooks/1"


async def post_signed(
    url: str,
    body: str,
    *,
    secret: str,
    delivery_id: str,
    timeout_seconds: float,
    local: bool,
    verify: ssl.SSLContext | bool = True,
) -> int:
    """POST ``body`` to ``url``; the status of a 2xx answer. Raises InvalidWebhookUrl or ForbiddenAddress
    (permanent), UnresolvableHost and DeliveryFailed (worth another try) for anything else."""
    target = parse_target(url, local=local)
    try:
        async with asyncio.timeout(timeout_seconds):
            address = await resolve(target, local=local)
    except TimeoutError as exc:
        raise DeliveryFailed(f"{target.host} did not resolve within {timeout_seconds:g}s") from exc
    raw = body.encode()
    headers = {
        "Host": target.host_header,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Imagepipe-Delivery": delivery_id,
        SIGNATURE_HEADER: signature(secret, raw, int(time.time())),
    }
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    # trust_env off: a proxy from the environment would connect to a name of its own choosing
    async with httpx.AsyncClient(
        timeout=timeout_seconds, follow_redirects=False, trust_env=False, verify=verify
    ) as client:
        request = client.build_request("POST", target.url_at(address), content=raw, headers=headers)
        request.extensions.update(extensions)
        try:
            # httpx's timeouts are per read: a receiver dripping bytes would hold the job without this one
            async with asyncio.timeout(timeout_seconds):
                response = await client.send(request, stream=True)
                try:
                    answer = await _head_of(response)
                finally:
                    await response.aclose()
        except TimeoutError as exc:
            raise DeliveryFailed(f"no answer within {timeout_seconds:g}s") from exc
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc or 'no answer'}") from exc
    if not response.is_success:
        raise DeliveryFailed(f"the receiver answered {response.status_code}: {answer[:200]!r}")
    return response.status_code


async def _head_of(response: httpx.Response) -> bytes:
    """The answer's first bytes; the rest is never read."""
    head = b""
    try:
        async for chunk in response.aiter_raw():
            head += chunk
            if len(head) >= MAX_ANSWER_BYTES:
                break
    except httpx.HTTPError:
        pass  # the status is what counts
    return head[:MAX_ANSWER_BYTES]
