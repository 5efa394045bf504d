"""Placeholders a client paints before the image arrives: BlurHash and ThumbHash, from tiny copies."""

from __future__ import annotations

from typing import TypedDict

import numpy as np

from imagepipe_analysis import blurhash_encode, thumbhash
from imagepipe_analysis.image import AnalysisImage, fit_within, round_half_up

BLURHASH_SIDE = 32  # 4x3 terms see no more than 32 px do
BLURHASH_TERMS = 4  # on the long side; the short side gets its share (4x3 for 4:3, 4x4 square)


class Placeholder(TypedDict):
    blurhash: str
    thumbhash: str


def blurhash_components(width: int, height: int) -> tuple[int, int]:
    """How many cosine terms BlurHash keeps across and down: the aspect a decoder can recover."""
    short = max(1, min(BLURHASH_TERMS, round_half_up(BLURHASH_TERMS * min(width, height) / max(width, height))))
    return (BLURHASH_TERMS, short) if width >= height else (short, BLURHASH_TERMS)


def blurhash_of(image: AnalysisImage) -> str:
    small = fit_within(image.flattened(), BLURHASH_SIDE)
    return blurhash_encode.encode(np.asarray(small), *blurhash_components(image.width, image.height))


def thumbhash_of(image: AnalysisImage) -> str:
    """ThumbHash as standard base64 (what the reference's decoders take after ``atob``)."""
    small = fit_within(image.to_pil(), thumbhash.MAX_SIDE).convert("RGBA")
    return thumbhash.to_base64(thumbhash.encode(np.asarray(small)))


def placeholders(image: AnalysisImage) -> Placeholder:
    """``{"blurhash": ..., "thumbhash": ...}`` for the record's ``metadata.placeholder``."""
    return {"blurhash": blurhash_of(image), "thumbhash": thumbhash_of(image)}
