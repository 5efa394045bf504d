"""The analysis image: one small, engine-neutral copy of the decoded source that every analysis reads.

Both engines hand over the same thing: 8-bit sRGB pixels, oriented as displayed, at the size
``analysis_size`` gives. Both engines make it with ``from_pil``: libvips resamples a box or a Lanczos a level
or two apart from Pillow, which moves a placeholder digit or a hash bit that sits on a quantisation step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from PIL import Image

MAX_SIDE = 256
# from_pil's: an integer box reduction first leaves at least this much for the Lanczos pass. 1: box-reduce to
# under twice the analysis size, a third of the cost of 3; both engines give it the same picture, so a short
# Lanczos is enough to keep them alike (engines.md)
REDUCING_GAP = 1.0

Mode = Literal["RGB", "RGBA"]
CHANNELS: dict[Mode, int] = {"RGB": 3, "RGBA": 4}


def round_half_up(value: float) -> int:
    """Round as JavaScript and C do (2.5 -> 3), not as Python's ``round`` (2.5 -> 2)."""
    return math.floor(value + 0.5)


def analysis_size(width: int, height: int, max_side: int = MAX_SIDE) -> tuple[int, int]:
    """The analysis image's size for a source of ``width`` x ``height``: the same on every engine."""
    if width < 1 or height < 1:
        raise ValueError(f"no analysis size for a {width}x{height} image")
    scale = min(1.0, max_side / max(width, height))
    return max(1, round_half_up(width * scale)), max(1, round_half_up(height * scale))


@dataclass(frozen=True, slots=True)
class AnalysisImage:
    """Raw 8-bit sRGB pixels, row by row, no longer than ``MAX_SIDE`` on either side."""

    data: bytes
    width: int
    height: int
    mode: Mode = "RGB"

    def __post_init__(self) -> None:
        if self.mode not in CHANNELS:
            raise ValueError(f"analysis images are RGB or RGBA, not {self.mode}")
        if not (1 <= self.width <= MAX_SIDE and 1 <= self.height <= MAX_SIDE):
            raise ValueError(f"an analysis image is 1..{MAX_SIDE} px a side, not {self.width}x{self.height}")
        expected = self.width * self.height * CHANNELS[self.mode]
        if len(self.data) != expected:
            raise ValueError(f"{self.width}x{self.height} {self.mode} needs {expected} bytes, got {len(self.data)}")

    @property
    def has_alpha(self) -> bool:
        return self.mode == "RGBA"

    def pixels(self) -> NDArray[np.uint8]:
        """The pixels as a read-only ``height x width x channels`` array."""
        return np.frombuffer(self.data, dtype=np.uint8).reshape(self.height, self.width, CHANNELS[self.mode])

    def to_pil(self) -> Image.Image:
        return Image.frombytes(self.mode, (self.width, self.height), self.data)

    def flattened(self) -> Image.Image:
        """RGB, any transparency composited over white (how a page shows it)."""
        image = self.to_pil()
        if image.mode == "RGBA":
            background = Image.new("RGBA", image.size, (255, 255, 255, 255))
            image = Image.alpha_composite(background, image)
        return image.convert("RGB")


def box_reduction(size: tuple[int, int]) -> tuple[int, int]:
    """The integer box reduction :func:`from_pil` makes of a picture of ``size`` before its Lanczos pass, as
    Pillow's ``resize(reducing_gap=REDUCING_GAP)`` picks it. An engine holding its pixels elsewhere makes the
    same reduction itself (a box average, partial blocks at the edges) and hands the result over."""
    target = analysis_size(*size)
    return int(size[0] / target[0] / REDUCING_GAP) or 1, int(size[1] / target[1] / REDUCING_GAP) or 1


def from_pil(image: Image.Image, reduced_from: tuple[int, int] | None = None) -> AnalysisImage:
    """The analysis image of a decoded, oriented, sRGB Pillow image. ``reduced_from``: the size of the picture
    ``image`` is the :func:`box_reduction` of, when the caller made that reduction; the Lanczos pass then
    samples the same region Pillow's own reduction would leave it, so both ways give the same pixels."""
    has_alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info
    mode: Mode = "RGBA" if has_alpha else "RGB"
    if image.mode in ("P", "PA", "1"):
        image = image.convert(mode)  # Pillow resizes these with NEAREST only
    lanczos = Image.Resampling.LANCZOS  # as libvips' thumbnail (lanczos3)
    # shrink first, convert after: a 12 MP conversion costs more than the whole analysis
    if reduced_from is not None:
        x_factor, y_factor = box_reduction(reduced_from)
        region = (0.0, 0.0, reduced_from[0] / x_factor, reduced_from[1] / y_factor)
        image = image.resize(analysis_size(*reduced_from), lanczos, box=region)
    elif (size := analysis_size(*image.size)) != image.size:
        image = image.resize(size, lanczos, reducing_gap=REDUCING_GAP)
    small = image.convert(mode)
    return AnalysisImage(small.tobytes(), small.width, small.height, mode)


def fit_within(image: Image.Image, side: int) -> Image.Image:
    """``image`` shrunk to fit ``side`` x ``side`` (aspect kept), or itself when it already fits."""
    width, height = analysis_size(image.width, image.height, side)
    if (width, height) == image.size:
        return image
    return image.resize((width, height), Image.Resampling.BOX)
