"""The local stack as a new user meets it: ``python infra/local/stack.py``, driven over HTTP, then Ctrl-C."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from conftest import corpus
from local_stack import RunningStack, assert_ctrl_c_leaves_nothing, launched, listed, poll, put_into_upload_bucket

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    with launched(tmp_path_factory.mktemp("logs")) as running:
        yield running


def test_the_banner_key_is_needed_and_works(stack: RunningStack) -> None:
    assert f"export KEY={stack.shown['API key']}" in stack.output
    assert all('-H "Authorization: Bearer $KEY"' in line for line in stack.lines if "curl " in line), stack.output
    anonymous = httpx.get(f"{stack.api}/images", timeout=10)
    assert anonymous.status_code == 401
    with stack.client() as http:
        assert http.get("/queue").status_code == 200


def test_upload_is_processed_and_a_variant_downloads(stack: RunningStack) -> None:
    photo = corpus("images", "baseline", "hopper.jpg")
    with stack.client() as http:
        accepted = http.post("/images", files={"file": (photo.name, photo.read_bytes(), "image/jpeg")})
        assert accepted.status_code == 202, accepted.text
        location = accepted.headers["Location"]

        record = poll(lambda: http.get(location).json())
        assert record["status"] == "succeeded", record
        stack.note_processes()  # the worker's imaging pool exists by now

        thumb = next(v for v in record["variants"] if v["name"] == "thumb")
        redirect = http.get(f"{location}/variants/thumb")
        assert redirect.status_code == 307
        download = http.get(redirect.headers["Location"])
    assert download.status_code == 200
    image = Image.open(io.BytesIO(download.content))
    assert image.format == "WEBP"
    assert image.size == (thumb["width"], thumb["height"])
    assert max(image.size) <= 256


def test_an_object_put_into_the_upload_bucket_is_processed_and_listed(stack: RunningStack) -> None:
    key = f"uploads/e2e-{uuid.uuid4().hex[:8]}.jpg"
    version = put_into_upload_bucket(stack, key, corpus("images", "baseline", "hopper.jpg"))
    with stack.client() as http:
        record = poll(lambda: listed(http, key))
    assert record["status"] == "succeeded", record
    assert record["source"]["key"] == key
    # the version S3 wrote, not the ETag: moto's event names none, and the bridge completes it as S3 would
    assert record["source"]["version"] == version


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the stack's processes through /proc")
def test_ctrl_c_stops_every_process_the_stack_started(stack: RunningStack) -> None:
    assert set(stack.children()) == {"redis", "moto", "bridge", "worker-1", "api"}, stack.output
    assert_ctrl_c_leaves_nothing(stack)
