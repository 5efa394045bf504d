"""Animated sources kept animated (``animated: "keep"``), on each engine through the real render(): WebP
variants keep every frame, each frame's duration and the loop count; other formats take the first frame;
the frames' total pixels are bounded from the headers."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw, ImageSequence

from imagepipe.errors import TooManyFrames, TooManyPixels
from imagepipe.models import Recipe
from imagepipe_engine import Limits, Render, engine
from imagepipe_engine.select import NAMES

ANIMATED = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "images" / "animated"
LIMITS = Limits(max_pixels=50_000_000, max_frames=100, max_output_dimension=4096)
DURATIONS = [50, 120, 200, 80, 300]
COLOURS = [(220, 30, 30), (30, 200, 40), (30, 40, 220), (230, 220, 30), (30, 220, 220)]


@pytest.fixture(params=NAMES)
def render(request: pytest.FixtureRequest) -> Render:
    return engine(request.param)


def animated_gif(loop: int | None = 0, size: tuple[int, int] = (240, 160)) -> bytes:
    """Five frames, each its own colour with a black bar moving right, each shown for its own time."""
    frames = []
    for index, colour in enumerate(COLOURS):
        frame = Image.new("RGB", size, colour)
        ImageDraw.Draw(frame).rectangle((index * 40, 20, index * 40 + 30, 140), fill=(0, 0, 0))
        frames.append(frame)
    buffer = io.BytesIO()
    options: dict[str, Any] = {} if loop is None else {"loop": loop}
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=DURATIONS, **options)
    return buffer.getvalue()


def keep(*variants: dict[str, Any], animated: str = "keep") -> Recipe:
    return Recipe.model_validate({"variants": list(variants), "animated": animated})


def played(data: bytes) -> tuple[str, int, list[int], int | None, list[tuple[int, int]]]:
    """What a viewer plays: format, frame count, each frame's duration, the loop count, each frame's size."""
    image = Image.open(io.BytesIO(data))
    durations, sizes = [], []
    for frame in ImageSequence.Iterator(image):
        frame.load()
        durations.append(int(frame.info.get("duration", 0)))
        sizes.append(frame.size)
    return str(image.format), getattr(image, "n_frames", 1), durations, image.info.get("loop"), sizes


def centre_colour(data: bytes) -> tuple[int, ...]:
    image = Image.open(io.BytesIO(data)).convert("RGB")
    return tuple(image.getpixel((image.width - 5, image.height // 2)))  # type: ignore[arg-type]


WEBP = {"name": "anim", "width": 120, "format": "webp"}
JPEG = {"name": "still", "width": 120, "format": "jpeg"}


def test_an_animated_gif_becomes_an_animated_webp_with_its_timing(render: Render) -> None:
    out = render(animated_gif(), keep(WEBP, JPEG), LIMITS)
    fmt, frames, durations, loop, sizes = played(out.variants[0].data)
    assert (fmt, frames, durations, loop) == ("WEBP", 5, DURATIONS, 0)
    assert sizes == [(120, 80)] * 5  # every frame resized
    assert (out.variants[0].width, out.variants[0].height) == (120, 80)
    assert played(out.variants[1].data)[:2] == ("JPEG", 1)
    assert max(abs(a - b) for a, b in zip(centre_colour(out.variants[1].data), COLOURS[0], strict=True)) < 20
    assert out.metadata.frames == 5


def test_the_loop_count_is_kept(render: Render) -> None:
    assert played(render(animated_gif(loop=3), keep(WEBP), LIMITS).variants[0].data)[3] == 3
    # a GIF without a loop extension plays once; a WebP says so with a loop count of 1
    assert played(render(animated_gif(loop=None), keep(WEBP), LIMITS).variants[0].data)[3] == 1


def test_cover_crops_every_frame_alike(render: Render) -> None:
    square = {"name": "sq", "width": 64, "height": 64, "fit": "cover", "format": "webp"}
    fmt, frames, durations, _, sizes = played(render(animated_gif(), keep(square), LIMITS).variants[0].data)
    assert (fmt, frames, durations, sizes) == ("WEBP", 5, DURATIONS, [(64, 64)] * 5)


def test_the_first_frame_by_default(render: Render) -> None:
    out = render(animated_gif(), keep(WEBP, animated="first_frame"), LIMITS)
    assert played(out.variants[0].data)[:2] == ("WEBP", 1)


@pytest.mark.parametrize("name", ["iss634.gif", "iss634.webp", "dispose_bgnd.gif"])
def test_corpus_animations_stay_animated(render: Render, name: str) -> None:
    data = (ANIMATED / name).read_bytes()
    source = played(data)
    _, frames, durations, _, sizes = played(render(data, keep(WEBP), LIMITS).variants[0].data)
    # libwebp's animation encoder merges a frame it finds identical to the one before, adding its time:
    # the animation plays the same, so the total time is what is kept exactly (as browsers play a GIF: a
    # frame of 0 or 10 ms for 100 ms)
    assert 1 < frames <= source[1]
    assert sum(durations) == sum(100 if d <= 10 else d for d in source[2])
    assert set(sizes) == {(min(120, source[4][0][0]),) * 2}  # never upscaled (inside)


def test_the_animation_bound_is_checked_before_decoding(render: Render) -> None:
    small = Limits(max_pixels=50_000_000, max_frames=100, max_output_dimension=4096, max_animation_pixels=150_000)
    with pytest.raises(TooManyPixels, match="5 frames of 240x160"):
        render(animated_gif(), keep(WEBP), small)
    render(animated_gif(), keep(WEBP, animated="first_frame"), small)  # one frame decoded: within the bound
    with pytest.raises(TooManyFrames):
        render(animated_gif(), keep(WEBP), Limits(50_000_000, 4, 4096))


def test_both_engines_play_the_same_animation() -> None:
    played_by = [played(engine(name)(animated_gif(), keep(WEBP), LIMITS).variants[0].data) for name in NAMES]
    assert played_by[0] == played_by[1]
