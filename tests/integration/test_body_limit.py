"""Bodies over the upload limit, or without a valid key, against a real uvicorn over a raw socket: refused
before they are read."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest

from conftest import Configure, MakeKey

LIMIT = 1000  # IMAGEPIPE_MAX_UPLOAD_BYTES for these tests; the API allows 64 KiB of form framing on top


def connect(base: str) -> socket.socket:
    url = urlsplit(base)
    sock = socket.create_connection((url.hostname or "", url.port or 80), timeout=20)
    return sock


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    """The status and the rest of what the server sent before closing (or 20 s of silence)."""
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1]), data


def head(path: str, key: str | None, *extra: str) -> bytes:
    auth = [f"Authorization: Bearer {key}"] if key else []
    lines = ["POST " + path + " HTTP/1.1", "Host: imagepipe.test", *auth, *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_declared_huge_body_is_refused_without_being_sent(
    configure: Configure, make_key: MakeKey, live_api: str
) -> None:
    configure(IMAGEPIPE_MAX_UPLOAD_BYTES=str(LIMIT))
    with connect(live_api) as sock:
        sock.sendall(
            head(
                "/images", make_key().key, "Content-Type: multipart/form-data; boundary=x", "Content-Length: 2000000000"
            )
        )  # 2 GB declared, not one byte sent
        status, data = read_response(sock)
    assert status == 413, data
    assert b'"code":"too_large"' in data
    assert b"x-content-type-options: nosniff" in data.lower()


def test_a_chunked_body_is_cut_off_at_the_limit(configure: Configure, make_key: MakeKey, live_api: str) -> None:
    configure(IMAGEPIPE_MAX_UPLOAD_BYTES=str(LIMIT))
    chunk = b"x" * 32 * 1024
    with connect(live_api) as sock:
        # a JSON route: nothing but the limit stops a body there
        sock.sendall(
            head("/images/uploads", make_key().key, "Content-Type: application/json", "Transfer-Encoding: chunked")
        )
        for _ in range(4):  # 128 KiB, past the limit and its framing allowance
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        sock.sendall(b"0\r\n\r\n")
        status, data = read_response(sock)
    assert status == 413, data
    assert b'"code":"too_large"' in data


@pytest.mark.parametrize("key", [None, "ip_0123456789abcdef_" + "A" * 43], ids=["no-key", "unknown-key"])
def test_a_body_without_a_valid_key_is_refused_without_being_read(live_api: str, key: str | None) -> None:
    with connect(live_api) as sock:
        # a body within the limit, declared and never sent: the answer cannot wait for it
        sock.sendall(head("/images", key, "Content-Type: multipart/form-data; boundary=x", "Content-Length: 5000"))
        status, data = read_response(sock)
    assert status == 401, data
    assert b'"code":"unauthorized"' in data
    assert b"www-authenticate: bearer" in data.lower()
