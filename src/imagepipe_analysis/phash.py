"""A 64-bit perceptual hash (DCT pHash); its Hamming distance and the bands of the near-duplicate index are
the shared layer's (``imagepipe.similar``: the API uses them and imports no image library)."""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from imagepipe.similar import BANDS, HASH_BITS, band_widths, bands, hamming
from imagepipe_analysis.image import AnalysisImage

__all__ = ["BANDS", "HASH_BITS", "band_widths", "bands", "hamming", "phash"]

DCT_SIDE = 32
LOW_SIDE = 8


@cache
def _dct_matrix(size: int) -> NDArray[np.float64]:
    """DCT-II without normalisation (scipy's default): a uniform scale, so medians compare like with like."""
    k = np.arange(size)[:, None]
    n = np.arange(size)[None, :]
    return np.cos(np.pi * k * (2 * n + 1) / (2 * size))


def phash(image: AnalysisImage) -> str:
    """16 hex digits: the 8x8 lowest frequencies of a 32x32 grey copy, each above or below the median of the
    63 AC terms (the DC term leaves the median alone; its bit is set for any image that is not black)."""
    grey = image.flattened().convert("L").resize((DCT_SIDE, DCT_SIDE), Image.Resampling.LANCZOS)
    pixels = np.asarray(grey, dtype=np.float64)
    dct = _dct_matrix(DCT_SIDE)
    low = (dct @ pixels @ dct.T)[:LOW_SIDE, :LOW_SIDE].flatten()
    median = float(np.median(low[1:]))
    value = 0
    for bit in low > median:
        value = value << 1 | int(bit)
    return f"{value:016x}"
