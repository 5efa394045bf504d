"""The ``imagepipe`` client commands against a stand-in for the API that answers what a real one should not (a
redirect, a page that is not JSON, a message with brackets): what the user sees, and what was sent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).parent / "imagepipe"  # what `make install` put into .venv/bin
IMAGE_ID = "0123456789abcdef0123456789abcdef"

Answer = tuple[int, dict[str, str], bytes]


@dataclass
class FakeApi:
    """An HTTP server on a free port: every request is recorded and answered by ``answer(method, path)``."""

    url: str
    answer: Callable[[str, str], Answer] = lambda method, path: (404, {}, b"")
    requests: list[str] = field(default_factory=list)


def _json(status: int, body: object) -> Answer:
    return status, {"content-type": "application/json"}, json.dumps(body).encode()


@pytest.fixture
def api() -> Iterator[FakeApi]:
    fake = FakeApi(url="")

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            fake.requests.append(f"{self.command} {self.path}")
            status, headers, body = fake.answer(self.command, self.path)
            self.send_response(status)
            for name, value in {**headers, "content-length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_DELETE = _any

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


def imagepipe(api: FakeApi, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IMAGEPIPE_URL": api.url, "IMAGEPIPE_API_KEY": "ip_test", "COLUMNS": "200"}
    return subprocess.run([str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60, check=False)


BAD_IDS = ["../keys/743710f9f9f3dccc", "../../keys", "", "..", "?a=1", "#", f"{IMAGE_ID}/variants"]


def test_an_id_not_of_the_apis_form_is_never_sent(api: FakeApi) -> None:
    status = imagepipe(api, "status", *BAD_IDS, IMAGE_ID, "--json")
    assert status.returncode == 1, status
    found = [json.loads(line) for line in status.stdout.splitlines()]
    assert found[:-1] == [
        {
            "image_id": bad,
            "error": {"code": "invalid_id", "message": f"not an image id (32 lower-case hex digits): {bad!r}"},
        }
        for bad in BAD_IDS
    ]
    assert found[-1]["image_id"] == IMAGE_ID  # the other ids are still asked about

    removed = imagepipe(api, "rm", *BAD_IDS)
    assert removed.returncode == 1 and removed.stdout == "", removed
    assert removed.stderr.count("invalid_id") == len(BAD_IDS)
    for command in (["get", "../keys", "-o", "x"], ["reprocess", ""], ["keys", "revoke", "../keys/743710f9f9f3dccc"]):
        result = imagepipe(api, *command)
        assert result.returncode == 1 and "invalid_id" in result.stderr, result
    got = imagepipe(api, "get", IMAGE_ID, "--variant", "../../keys", "-o", "x")
    assert got.returncode == 1 and "not a variant name" in got.stderr, got
    assert api.requests == [f"GET /images/{IMAGE_ID}"]


def test_a_redirect_is_neither_followed_nor_taken_for_success(api: FakeApi) -> None:
    api.answer = lambda method, path: (307, {"location": "/elsewhere"}, b"")

    removed = imagepipe(api, "rm", IMAGE_ID)
    assert removed.returncode == 1 and removed.stdout == "", removed
    assert f"not deleted {IMAGE_ID}: unexpected_answer: DELETE /images/{IMAGE_ID} answered 307" in removed.stderr
    listed = imagepipe(api, "ls")
    assert listed.returncode == 1 and "answered 307 Temporary Redirect to /elsewhere" in listed.stderr, listed
    assert "Traceback" not in removed.stderr + listed.stderr
    assert "GET /elsewhere" not in api.requests


def test_an_answer_that_is_not_json_is_an_error_not_a_traceback(api: FakeApi) -> None:
    api.answer = lambda method, path: (200, {"content-type": "text/html"}, b"<html>a web page</html>")
    result = imagepipe(api, "status", IMAGE_ID, "--json")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result
    assert json.loads(result.stdout)["error"]["code"] == "unexpected_answer"


def test_a_url_that_is_no_http_url_is_a_usage_error(api: FakeApi) -> None:
    for url in ("notaurl", "ftp://host/", "http://"):
        result = imagepipe(api, "ls", "--url", url)
        assert result.returncode == 2 and "--url" in result.stderr, result
    assert api.requests == []


def test_the_apis_text_is_shown_as_it_is_not_as_markup(api: FakeApi) -> None:
    message = "install imagepipe[heic] for [bold]HEIC[/bold]"
    record = {"image_id": IMAGE_ID, "status": "failed", "error": {"code": "unsupported_format", "message": message}}
    api.answer = lambda method, path: _json(200, record if path.startswith("/images/") else {"items": [record]})

    for command in (["status", IMAGE_ID], ["ls"]):
        result = imagepipe(api, *command)
        assert message in result.stdout, result.stdout


def test_a_closed_output_ends_each_command_quietly_with_141(api: FakeApi) -> None:
    """``imagepipe ls --json | head -1``: the reader is gone before the rows are written."""
    record = {"image_id": IMAGE_ID, "status": "queued"}
    api.answer = lambda method, path: _json(200, record if path.startswith("/images/") else {"items": [record] * 50})
    env = {**os.environ, "IMAGEPIPE_URL": api.url, "IMAGEPIPE_API_KEY": "ip_test"}
    for command in (["ls", "--json"], ["ls"], ["status", IMAGE_ID, IMAGE_ID], ["keys", "ls", "--json"]):
        read, write = os.pipe()
        os.close(read)  # what `head -1` does once it has its line
        proc = subprocess.run([str(SCRIPT), *command], env=env, stdout=write, stderr=subprocess.PIPE, check=False)
        os.close(write)
        assert (proc.returncode, proc.stderr) == (141, b""), (command, proc)
