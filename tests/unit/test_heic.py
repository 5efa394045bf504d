"""HEIC/HEIF input: sniffed by the API, decoded by both engines with the imagepipe[heic] extra (the dev venv
has it), and refused as invalid_image naming the extra where pillow-heif is missing (a real interpreter with
the package blocked from importing, not a mock of our code)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imagepipe.models import Recipe
from imagepipe.sniff import HEAD_BYTES, sniff_content_type
from imagepipe_engine import Limits, Render, engine
from imagepipe_engine.select import NAMES

HEIF = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "images" / "other_formats" / "hopper.heif"
REPO = Path(__file__).resolve().parents[2]
LIMITS = Limits(max_pixels=50_000_000, max_frames=100, max_output_dimension=4096)
RECIPE = Recipe.model_validate({"variants": [{"name": "v", "width": 64, "format": "png"}]})


@pytest.fixture(params=NAMES)
def render(request: pytest.FixtureRequest) -> Render:
    return engine(request.param)


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    brands = major + b"\0\0\0\0" + b"".join(compatible)
    return (8 + len(brands)).to_bytes(4, "big") + b"ftyp" + brands + b"\0" * 16


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (HEIF.read_bytes(), "image/heic"),
        (ftyp(b"heix", b"mif1"), "image/heic"),
        (ftyp(b"mif1", b"heic"), "image/heic"),
        (ftyp(b"msf1", b"hevc"), "image/heic"),
        (ftyp(b"mif1", b"avif", b"miaf"), "image/avif"),
        (ftyp(b"avif", b"mif1"), "image/avif"),
        (ftyp(b"isom", b"mp42"), "application/octet-stream"),  # an MP4 video is no image
    ],
)
def test_the_api_sniffs_heif_brands(head: bytes, expected: str) -> None:
    assert sniff_content_type(head[:HEAD_BYTES]) == expected


def test_heic_is_rendered_with_the_extra(render: Render) -> None:
    out = render(HEIF.read_bytes(), RECIPE, LIMITS)
    assert (out.metadata.format, out.metadata.width, out.metadata.height) == ("HEIF", 128, 128)
    variant = Image.open(io.BytesIO(out.variants[0].data))
    assert (variant.format, variant.size) == ("PNG", (64, 64))
    with Image.open(REPO.parent / "shared" / "corpus" / "images" / "baseline" / "hopper.png") as reference:
        expected = reference.convert("RGB").resize((64, 64))
    got = np.asarray(variant.convert("RGB"), dtype=np.int16)
    assert np.abs(got - np.asarray(expected, dtype=np.int16)).mean() < 12  # the same picture as the corpus's hopper


REFUSAL = """
import json, sys
sys.modules["pillow_heif"] = None  # as if the imagepipe[heic] extra were not installed
from imagepipe.errors import ImagePipeError
from imagepipe.models import Recipe
from imagepipe_engine import Limits, engine
recipe = Recipe.model_validate({"variants": [{"name": "v", "width": 64}]})
data = open(sys.argv[1], "rb").read()
try:
    engine(sys.argv[2])(data, recipe, Limits(50_000_000, 100, 4096))
    print(json.dumps({"code": "rendered"}))
except ImagePipeError as exc:
    print(json.dumps(exc.as_dict()))
"""


@pytest.mark.parametrize("name", NAMES)
def test_heic_is_refused_clearly_without_the_extra(name: str) -> None:
    env_path = ":".join(str(REPO / part) for part in ("src", "layers/shared"))
    done = subprocess.run(
        [sys.executable, "-c", REFUSAL, str(HEIF), name],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    error = json.loads(done.stdout)
    assert error["code"] == "invalid_image"
    assert "imagepipe[heic]" in error["message"]


LOADED = """
import json, sys
from imagepipe.models import Recipe
from imagepipe_engine import Limits, engine
recipe = Recipe.model_validate({"variants": [{"name": "v", "width": 64}]})
render = engine(sys.argv[2])
rendered = []
for path in sys.argv[1].split(","):
    render(open(path, "rb").read(), recipe, Limits(50_000_000, 100, 4096))
    rendered.append("pillow_heif" in sys.modules)
print(json.dumps(rendered))
"""


@pytest.mark.parametrize("name", NAMES)
def test_pillow_heif_is_loaded_only_when_a_heic_file_arrives(name: str) -> None:
    """Every other file renders without it: importing it costs each worker and pool process about 25 ms."""
    jpeg = HEIF.parents[1] / "orientation" / "Landscape_1.jpg"
    env_path = ":".join(str(REPO / part) for part in ("src", "layers/shared"))
    done = subprocess.run(
        [sys.executable, "-c", LOADED, f"{jpeg},{HEIF},{jpeg}", name],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert json.loads(done.stdout) == [False, True, True]
