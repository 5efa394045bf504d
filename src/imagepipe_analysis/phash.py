"""A 64-bit perceptual hash (DCT pHash), its Hamming distance, and the bands of a near-duplicate index."""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from imagepipe_analysis.image import AnalysisImage

HASH_BITS = 64
DCT_SIDE = 32
LOW_SIDE = 8
BANDS = 9  # any hash within distance 8 (the API's default) shares a band


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


def hamming(a: str, b: str) -> int:
    """How many of the 64 bits differ between two hashes."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def band_widths(n: int) -> list[int]:
    if not 1 <= n <= HASH_BITS:
        raise ValueError(f"a hash splits into 1..{HASH_BITS} bands, not {n}")
    return [HASH_BITS // n + (1 if index < HASH_BITS % n else 0) for index in range(n)]


def bands(hash_hex: str, n: int = BANDS) -> list[str]:
    """The hash cut into ``n`` runs of bits, each tagged with its position (``"3:5a"``): two hashes whose
    distance is below ``n`` differ in at most ``n - 1`` runs, so they share at least one band."""
    value = int(hash_hex, 16)
    result = []
    shift = HASH_BITS
    for index, width in enumerate(band_widths(n)):
        shift -= width
        result.append(f"{index}:{(value >> shift) & ((1 << width) - 1):x}")
    return result
