"""Both engines' analysis images of one file give the same answers: what changes when libvips rather than
Pillow decodes (the engines' own ``analysis_image``; test_conformance.py runs the same over the corpus)."""

from __future__ import annotations

import io

import blurhash
import numpy as np
import pytest
from PIL import Image, ImageOps

from conftest import corpus
from imagepipe.models import DEFAULT_RECIPE
from imagepipe_analysis import AnalysisImage, crop_box, hamming, phash, placeholders
from imagepipe_analysis import thumbhash as th
from imagepipe_analysis.crop import source_box
from imagepipe_engine import Limits, pillow, vips
from photos import scene

LIMITS = Limits(max_pixels=50_000_000, max_frames=100, max_output_dimension=4096)

PHOTOS = [
    ("orientation", "Landscape_1.jpg"),
    ("orientation", "Portrait_6.jpg"),
    ("animated", "sugarshack.mpo"),
    ("modes", "icc_profile_big.jpg"),
    ("corrupt", "jpeg_ff00_header.jpg"),
]


def vips_analysis(data: bytes) -> AnalysisImage:
    """The analysis image as the vips engine makes it from its decoded source."""
    return vips.analysis_image(vips.decode(data, DEFAULT_RECIPE, LIMITS)[1])


def pillow_analysis(data: bytes) -> AnalysisImage:
    return pillow.analysis_image(pillow.decode(data, DEFAULT_RECIPE, LIMITS)[1])


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    found = {name: corpus("images", folder, name).read_bytes() for folder, name in PHOTOS}
    found.update({f"scene {seed}": jpeg(scene(seed, 1600, 1200)) for seed in (0, 1)})
    return found


def test_both_engines_hash_a_photo_within_two_bits(files: dict[str, bytes]) -> None:
    distances = {
        name: hamming(phash(pillow_analysis(data)), phash(vips_analysis(data))) for name, data in files.items()
    }
    assert max(distances.values()) <= 2, distances


def test_both_engines_cut_the_same_smart_box(files: dict[str, bytes]) -> None:
    for name, data in files.items():
        ours, theirs = pillow_analysis(data), vips_analysis(data)
        size = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).size
        boxes = [source_box(crop_box(a, 1, 1, "smart"), (a.width, a.height), size, 1, 1) for a in (ours, theirs)]
        assert boxes[0] == boxes[1], name


def test_both_engines_placeholders_paint_the_same_colours(files: dict[str, bytes]) -> None:
    # the strings may differ in a digit where a term sits on a quantisation step; the pictures may not
    for name, data in files.items():
        ours, theirs = placeholders(pillow_analysis(data)), placeholders(vips_analysis(data))
        painted = [np.asarray(blurhash.decode(p["blurhash"], 16, 16)) for p in (ours, theirs)]
        assert np.abs(painted[0] - painted[1]).max() <= 12, name
        averages = [np.asarray(th.average_rgba(th.from_base64(p["thumbhash"]))) for p in (ours, theirs)]
        assert np.abs(averages[0] - averages[1]).max() <= 0.05, name
