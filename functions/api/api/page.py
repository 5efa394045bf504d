"""GET /: the upload page, one self-contained HTML file (functions/api/page/index.html), no build step.

Its script and style are inline and allowed by their hashes in a strict Content-Security-Policy, so the page
is one response (with an empty /favicon.ico, the only routes besides a bare /healthz that need no key).
Images come from the output bucket's presigned URLs and big files go to the upload bucket's presigned POST:
those two origins, as this process's S3 client writes them, are the only others the policy names.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from imagepipe.aws import s3_client
from imagepipe.direct_upload import DIRECT_UPLOAD_LIMIT
from imagepipe.settings import get_settings
from imagepipe.sniff import HEAD_BYTES, ISO_BRANDS, SIGNATURES

router = APIRouter(tags=["page"])

PAGE = Path(__file__).resolve().parents[1] / "page" / "index.html"
_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def bucket_origins() -> tuple[str, str]:
    """Where presigned URLs point: (output bucket for images, upload bucket for presigned POSTs)."""
    settings, s3 = get_settings(), s3_client()
    # keys under the prefixes the API's role may sign for: only the origin is kept
    probe = f"{settings.output_prefix}origin"
    get = s3.generate_presigned_url("get_object", Params={"Bucket": settings.output_bucket, "Key": probe}, ExpiresIn=60)
    post = s3.generate_presigned_post(settings.upload_bucket, f"{settings.upload_prefix}origin", ExpiresIn=60)["url"]
    return _origin(get), _origin(post)


def _config() -> str:
    """What the page needs from the server: how it recognises images (as the API sniffs them) and the
    direct-upload limit."""
    config = {
        "directUploadLimit": DIRECT_UPLOAD_LIMIT,
        "headBytes": HEAD_BYTES,
        "signatures": [{"hex": sig.hex(), "offset": offset, "type": kind} for sig, offset, kind in SIGNATURES],
        "isoBrands": [
            {"type": kind, "brands": sorted(b.decode("ascii") for b in brands)} for kind, brands in ISO_BRANDS
        ],
    }
    return json.dumps(config).replace("<", "\\u003c")


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@lru_cache(maxsize=1)
def rendered() -> tuple[str, str]:
    """The page and its Content-Security-Policy, built once per process."""
    html = PAGE.read_text().replace("{{config}}", _config())
    hashes = {kind: [_hash(body) for k, body in _INLINE.findall(html) if k == kind] for kind in ("script", "style")}
    images, uploads = bucket_origins()
    policy = "; ".join(
        [
            "default-src 'none'",
            f"script-src {' '.join(hashes['script'])}",
            f"style-src {' '.join(hashes['style'])}",
            f"img-src 'self' {images}",
            f"connect-src 'self' {uploads}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return html, policy


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def upload_page() -> HTMLResponse:
    """The upload page (a plain def: its first call reads the file, so it runs in the thread pool)."""
    html, policy = rendered()
    headers = {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }
    return HTMLResponse(html, headers=headers)


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    """No icon, said without an error: every browser asks for one, and a 404 shows in its console (a data:
    URL icon would need ``data:`` in the page's img-src)."""
    return Response(status_code=204)
