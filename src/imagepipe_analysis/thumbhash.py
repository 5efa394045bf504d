"""ThumbHash (Evan Wallace's reference algorithm, evanw/thumbhash), encoded with numpy.

The Python ports on PyPI either pin Pillow below 11 and pull a CLI stack, or lack a decoder and mishandle
alpha; the encoder is short, so it lives here, checked against the reference's outputs in the tests.
"""

from __future__ import annotations

import base64

import numpy as np
from numpy.typing import NDArray

from imagepipe_analysis.image import round_half_up

MAX_SIDE = 100  # the reference refuses larger input: more pixels change nothing


def _encode_channel(channel: NDArray[np.float64], nx: int, ny: int) -> tuple[float, list[float], float]:
    """DC, normalised AC terms (0..1) and their scale, over the reference's triangle of frequencies."""
    height, width = channel.shape
    xs = (np.arange(width) + 0.5) * np.pi / width
    ys = (np.arange(height) + 0.5) * np.pi / height
    dc, ac, scale = 0.0, [], 0.0
    for cy in range(ny):
        fy = np.cos(ys * cy)
        cx = 0
        while cx * ny < nx * (ny - cy):
            value = float(fy @ channel @ np.cos(xs * cx)) / (width * height)
            if cx or cy:
                ac.append(value)
                scale = max(scale, abs(value))
            else:
                dc = value
            cx += 1
    if scale:
        ac = [0.5 + 0.5 / scale * value for value in ac]
    return dc, ac, scale


def encode(rgba: NDArray[np.uint8]) -> bytes:
    """The ThumbHash of an ``h x w x 4`` RGBA array (not premultiplied), at most 100 px a side."""
    height, width = rgba.shape[:2]
    if width > MAX_SIDE or height > MAX_SIDE:
        raise ValueError(f"{width}x{height} does not fit in {MAX_SIDE}x{MAX_SIDE}")
    pixels = rgba.astype(np.float64) / 255.0
    alpha = pixels[..., 3]
    total_alpha = float(alpha.sum())
    average = (pixels[..., :3] * alpha[..., None]).sum(axis=(0, 1))
    if total_alpha > 0:
        average /= total_alpha
    has_alpha = total_alpha < width * height
    l_limit = 5 if has_alpha else 7  # fewer luminance terms when alpha needs the room
    lx = max(1, round_half_up(l_limit * width / max(width, height)))
    ly = max(1, round_half_up(l_limit * height / max(width, height)))

    # composite over the average colour, then split into luminance, yellow-blue, red-green
    rgb = average * (1.0 - alpha[..., None]) + alpha[..., None] * pixels[..., :3]
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    l_dc, l_ac, l_scale = _encode_channel((red + green + blue) / 3.0, max(3, lx), max(3, ly))
    p_dc, p_ac, p_scale = _encode_channel((red + green) / 2.0 - blue, 3, 3)
    q_dc, q_ac, q_scale = _encode_channel(red - green, 3, 3)

    landscape = width > height
    header24 = (
        round_half_up(63.0 * l_dc)
        | round_half_up(31.5 + 31.5 * p_dc) << 6
        | round_half_up(31.5 + 31.5 * q_dc) << 12
        | round_half_up(31.0 * l_scale) << 18
        | int(has_alpha) << 23
    )
    header16 = (
        (ly if landscape else lx)
        | round_half_up(63.0 * p_scale) << 3
        | round_half_up(63.0 * q_scale) << 9
        | int(landscape) << 15
    )
    header = [header24 & 255, (header24 >> 8) & 255, header24 >> 16, header16 & 255, header16 >> 8]
    terms = l_ac + p_ac + q_ac
    if has_alpha:
        a_dc, a_ac, a_scale = _encode_channel(alpha, 5, 5)
        header.append(round_half_up(15.0 * a_dc) | round_half_up(15.0 * a_scale) << 4)
        terms += a_ac
    packed = bytearray((len(terms) + 1) // 2)
    for index, term in enumerate(terms):
        packed[index >> 1] |= round_half_up(15.0 * term) << ((index & 1) << 2)
    return bytes(header) + bytes(packed)


def aspect_ratio(thumbhash: bytes) -> float:
    """The approximate width / height of the encoded image, as the reference decoder reads it."""
    has_alpha = bool(thumbhash[2] & 0x80)
    landscape = bool(thumbhash[4] & 0x80)
    long_side = 5 if has_alpha else 7
    lx = long_side if landscape else thumbhash[3] & 7
    ly = thumbhash[3] & 7 if landscape else long_side
    return lx / ly


def average_rgba(thumbhash: bytes) -> tuple[float, float, float, float]:
    """The average colour of the encoded image, each channel 0..1, as the reference decoder reads it."""
    header = thumbhash[0] | thumbhash[1] << 8 | thumbhash[2] << 16
    luminance = (header & 63) / 63.0
    p = ((header >> 6) & 63) / 31.5 - 1.0
    q = ((header >> 12) & 63) / 31.5 - 1.0
    alpha = (thumbhash[5] & 15) / 15.0 if header >> 23 else 1.0
    blue = luminance - 2.0 / 3.0 * p
    red = (3.0 * luminance - blue + q) / 2.0
    green = red - q
    return _unit(red), _unit(green), _unit(blue), alpha


def _unit(value: float) -> float:
    return min(1.0, max(0.0, value))


def to_base64(thumbhash: bytes) -> str:
    return base64.b64encode(thumbhash).decode("ascii")


def from_base64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)
