"""Colour management, on both engines: pixels tagged with another profile come out in sRGB; untagged ones are
taken as sRGB. Sources are built with libvips' own profiles (``p3``, ``cmyk``)."""

from __future__ import annotations

import io
from typing import cast

import pytest
import pyvips
from PIL import Image

from imagepipe.models import Recipe
from imagepipe_engine import Limits, Render, colour, engine
from imagepipe_engine.select import NAMES

LIMITS = Limits(max_pixels=50_000_000, max_frames=100, max_output_dimension=4096)
RECIPE = Recipe.model_validate({"variants": [{"name": "v", "width": 32, "format": "png"}]})
RED, ORANGE = (255, 0, 0), (200, 120, 60)


@pytest.fixture(params=NAMES)
def render(request: pytest.FixtureRequest) -> Render:
    return engine(request.param)


def flat(colour: tuple[int, int, int], size: int = 64) -> pyvips.Image:
    return (pyvips.Image.black(size, size, bands=3) + list(colour)).cast("uchar").copy(interpretation="srgb")


def stored_as(colour: tuple[int, int, int], profile: str) -> bytes:
    """An sRGB colour converted into ``profile``'s space and saved as a JPEG that embeds the profile."""
    converted = flat(colour).icc_transform(profile, input_profile="srgb", intent="relative")
    return bytes(converted.jpegsave_buffer(Q=100, subsample_mode="off"))


def stored_values(data: bytes) -> tuple[int, ...]:
    with Image.open(io.BytesIO(data)) as image:
        return cast(tuple[int, ...], image.getpixel((32, 32)))


def rendered_centre(render: Render, data: bytes) -> tuple[int, int, int]:
    out = render(data, RECIPE, LIMITS).variants[0]
    with Image.open(io.BytesIO(out.data)) as image:
        assert "icc_profile" not in image.info  # outputs are untagged sRGB
        return cast(tuple[int, int, int], image.convert("RGB").getpixel((16, 16)))


def close(got: tuple[int, ...], want: tuple[int, ...], within: int) -> bool:
    return all(abs(a - b) <= within for a, b in zip(got, want, strict=True))


def test_display_p3_keeps_its_colour(render: Render) -> None:
    data = stored_as(RED, "p3")
    assert close(stored_values(data), (234, 51, 35), 3)  # what a profile-blind renderer would show
    assert close(rendered_centre(render, data), RED, 4)


def test_cmyk_with_a_profile_is_converted_through_it(render: Render) -> None:
    data = stored_as(ORANGE, "cmyk")
    assert len(stored_values(data)) == 4
    assert close(rendered_centre(render, data), ORANGE, 6)


def test_no_profile_means_srgb(render: Render) -> None:
    data = bytes(flat(RED).jpegsave_buffer(Q=100, subsample_mode="off", keep=0))
    assert close(rendered_centre(render, data), RED, 3)


def test_only_profiles_other_than_srgb_are_applied() -> None:
    def profile(name: str, bands: int = 3) -> bytes:
        image = pyvips.Image.black(4, 4, bands=bands).cast("uchar").copy(interpretation="srgb")
        tagged = image.icc_transform(name, input_profile="srgb") if name != "srgb" else image
        buffer = tagged.jpegsave_buffer(profile=name) if name == "srgb" else tagged.jpegsave_buffer()
        with Image.open(io.BytesIO(bytes(buffer))) as opened:
            return cast(bytes, opened.info["icc_profile"])

    assert colour.needs_conversion(profile("p3"))
    assert colour.needs_conversion(profile("cmyk"))
    assert not colour.needs_conversion(profile("srgb"))  # already sRGB: a conversion would be a wasted pass
    assert not colour.needs_conversion(None)
