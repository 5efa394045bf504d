"""The libvips engine's guards against hostile input, beyond what the conformance suite shows."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from imagepipe.errors import InvalidImage
from imagepipe.models import DEFAULT_RECIPE
from imagepipe_engine import Limits, engine
from imagepipe_engine.select import NAMES

pyvips = pytest.importorskip("pyvips")
LIMITS = Limits(max_pixels=50_000_000, max_frames=100, max_output_dimension=4096)


def photo_jpeg(width: int, height: int) -> bytes:
    noise = Image.effect_noise((width, height), 60).convert("RGB")
    buffer = io.BytesIO()
    noise.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.mark.parametrize("name", NAMES)
def test_a_truncated_photo_is_refused_not_rendered_grey(name: str) -> None:
    data = photo_jpeg(1200, 800)
    with pytest.raises(InvalidImage, match="truncated"):
        engine(name)(data[: len(data) // 2], DEFAULT_RECIPE, LIMITS)


def test_libvips_loads_only_the_formats_we_accept() -> None:
    engine("vips")  # importing the engine sets libvips up
    pyvips.Image.new_from_buffer(photo_jpeg(8, 8), "").copy_memory()  # an accepted format loads
    svg = b"<svg xmlns='http://www.w3.org/2000/svg' width='9' height='9'/>"  # librsvg: loads unless blocked
    with pytest.raises(pyvips.Error):
        pyvips.Image.new_from_buffer(svg, "").copy_memory()


def test_libvips_runs_one_thread_and_caches_nothing() -> None:
    engine("vips")
    assert pyvips.concurrency_get() == 1
    assert (pyvips.cache_get_max(), pyvips.cache_get_max_mem(), pyvips.cache_get_max_files()) == (0, 0, 0)
