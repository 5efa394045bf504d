"""Every image of the shared corpus through the real worker: valid ones come out right, hostile ones end
``failed`` with the right code after one attempt, and the worker keeps serving."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from conftest import CORPUS, RunWorker, corpus
from factories import upload, uploaded
from imagepipe.settings import get_settings
from imagepipe.sniff import HEAD_BYTES, UNKNOWN, sniff_content_type

VALID = ("baseline", "modes", "animated", "orientation", "other_formats")
HOSTILE = ("corrupt", "bomb")  # not_an_image: the API refuses it (test_pipeline); S3 puts, the worker
REFUSAL_CODES = {"invalid_image", "too_many_pixels", "too_many_frames"}
BOMBS = {"decompression_bomb.gif", "decompression_bomb_extents.gif", "reallybig.bmp"}
# Refusing this cleanly is right: Pillow's Ultra HDR sample is cut short (its MANIFEST entry: load() raises
# "image file is truncated"). hopper.heif renders: the dev venv has the imagepipe[heic] extra.
UNSUPPORTED = {"ultrahdr.jpg"}

RECIPE = {
    "variants": [
        {"name": "jpg", "width": 96, "height": 96, "format": "jpeg"},
        {"name": "png", "width": 64, "height": 64, "fit": "contain", "format": "png"},
        {"name": "webp", "width": 48, "height": 48, "fit": "cover", "format": "webp"},
    ]
}


def images(*folders: str) -> list[Path]:
    return sorted(p for f in folders for p in (CORPUS / "images" / f).iterdir() if not p.name.startswith("LICENSE"))


async def upload_all(api: httpx.AsyncClient, paths: list[Path]) -> dict[Path, str]:
    return {path: await uploaded(api, *path.relative_to(CORPUS).parts, recipe=RECIPE) for path in paths}


def announced(path: Path) -> bool:
    """Whether the file's first bytes are an image format's (else the API refuses it: see below)."""
    return sniff_content_type(path.read_bytes()[:HEAD_BYTES]) != UNKNOWN


async def test_files_that_are_no_known_format_are_refused_at_upload(api: httpx.AsyncClient) -> None:
    assert all(announced(p) for p in images(*VALID))
    unknown = [p for p in images(*HOSTILE, "not_an_image") if not announced(p)]
    # a PNG whose signature was damaged (xcrn0g04: a CR added; xs1n0g01: a byte changed) is no PNG any more
    assert {"test-ole-file.doc", "xcrn0g04.png", "xs1n0g01.png"} <= {p.name for p in unknown}
    for path in unknown:
        resp = await upload(api, *path.relative_to(CORPUS).parts)
        assert (resp.status_code, resp.json()["error"]["code"]) == (415, "unsupported_media_type"), path


@pytest.fixture
async def outcomes(api: httpx.AsyncClient, run_worker: RunWorker) -> dict[Path, dict[str, Any]]:
    paths = [p for p in images(*VALID, *HOSTILE) if announced(p)]
    ids = await upload_all(api, paths)
    # a valid image queued last: the worker must still serve it after every hostile one
    last = await upload_all(api, [corpus("images", "baseline", "hopper.jpg")])
    await run_worker()
    records = {p: (await api.get(f"/images/{i}")).json() for p, i in {**ids}.items()}
    tail = (await api.get(f"/images/{next(iter(last.values()))}")).json()
    assert tail["status"] == "succeeded", tail
    return records


async def test_corpus_through_the_real_worker(outcomes: dict[Path, dict[str, Any]], s3: Any) -> None:
    refused = []
    for path, record in outcomes.items():
        folder = path.parent.name
        assert record["attempts"] == 1, (path, record)  # no retry for either outcome
        if folder in VALID and path.name not in UNSUPPORTED:
            assert record["status"] == "succeeded", (path, record["error"])
            check_variants(record, s3)
        elif record["status"] == "failed":
            assert record["error"]["code"] in REFUSAL_CODES, (path, record["error"])
            refused.append(path.name)
        else:
            assert record["status"] == "succeeded", (path, record)  # damaged but fully decodable
    for name in BOMBS:
        bomb = next(r for p, r in outcomes.items() if p.name == name)
        assert (bomb["status"], bomb["error"]["code"]) == ("failed", "too_many_pixels"), bomb
    assert {"broken.png", "truncated_jpeg.jpg", "zero_width.gif"} <= set(refused)


def check_variants(record: dict[str, Any], s3: Any) -> None:
    bucket = get_settings().output_bucket
    for variant in record["variants"]:
        body = s3.get_object(Bucket=bucket, Key=variant["key"])["Body"].read()
        with Image.open(io.BytesIO(body)) as im:
            im.load()
            assert im.size == (variant["width"], variant["height"])
            assert im.format == variant["format"].upper()
            if variant["format"] == "jpeg":
                assert im.mode in {"RGB", "L"}
            assert not im.getexif()
