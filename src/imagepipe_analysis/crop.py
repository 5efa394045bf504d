"""Where a ``cover`` variant cuts: the centre, the most salient region, or a focal point.

The box is chosen on the analysis image and carried to the source by ``source_box``, so every engine cuts
the same region whatever it decoded.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import NDArray

from imagepipe_analysis.image import AnalysisImage, round_half_up

Gravity = Literal["center", "smart"]

CHROMA_WEIGHT = 0.5  # a colourful region attracts, but less than detail does
SUBJECT_FRACTION = 16  # a subject is judged over neighbourhoods of 1/8 of the short side


class Box(NamedTuple):
    left: int
    top: int
    width: int
    height: int


def cover_size(width: int, height: int, target_width: int, target_height: int) -> tuple[int, int]:
    """The largest box of the target's aspect that fits in ``width`` x ``height``."""
    if width * target_height > height * target_width:
        return max(1, min(width, round_half_up(height * target_width / target_height))), height
    return width, max(1, min(height, round_half_up(width * target_height / target_width)))


def _place(centre: float, size: int, extent: int) -> int:
    """The near edge of a ``size`` run centred on ``centre``, kept inside ``0..extent``."""
    return min(max(0, round_half_up(centre - size / 2)), extent - size)


def saliency(image: AnalysisImage) -> NDArray[np.float64]:
    """Per pixel, how much it draws the eye: edge energy of the luma (Sobel) plus colour that stands out."""
    rgb = np.asarray(image.flattened(), dtype=np.float64) / 255.0
    luma = rgb @ np.array([0.299, 0.587, 0.114])
    height, width = luma.shape
    padded = np.pad(luma, 1, mode="edge")

    def shifted(dy: int, dx: int) -> NDArray[np.float64]:
        return padded[1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width]

    gx = shifted(-1, 1) + 2 * shifted(0, 1) + shifted(1, 1) - shifted(-1, -1) - 2 * shifted(0, -1) - shifted(1, -1)
    gy = shifted(1, -1) + 2 * shifted(1, 0) + shifted(1, 1) - shifted(-1, -1) - 2 * shifted(-1, 0) - shifted(-1, 1)
    chroma = rgb.max(axis=2) - rgb.min(axis=2)
    # colour counts where it stands out: over the picture's typical chroma, so a tinted scene is no subject
    standout = np.maximum(0.0, chroma - float(np.median(chroma)))
    # squared edges: a small sharp subject outweighs a long soft contour
    result: NDArray[np.float64] = gx**2 + gy**2 + CHROMA_WEIGHT * standout
    return result


def _box_blur(values: NDArray[np.float64], radius: int) -> NDArray[np.float64]:
    """The mean over a ``2 * radius + 1`` square around each pixel (edges clamped), by summed areas."""
    padded = np.pad(values, radius, mode="edge")
    area = np.pad(padded.cumsum(axis=0).cumsum(axis=1), ((1, 0), (1, 0)))
    side = 2 * radius + 1
    height, width = values.shape
    total = area[side:, side:] - area[:-side, side:] - area[side:, :-side] + area[:-side, :-side]
    mean: NDArray[np.float64] = total[:height, :width] / (side * side)
    return mean


def salient_point(image: AnalysisImage) -> tuple[float, float]:
    """The centre of the most salient neighbourhood (as libvips' attention crop finds it); the picture's
    centre when nothing stands out, the nearest to it among equals."""
    radius = max(1, min(image.width, image.height) // SUBJECT_FRACTION)
    density = _box_blur(saliency(image), radius)
    peak = float(density.max())
    ys, xs = np.nonzero(density >= peak - 1e-9 * max(1.0, peak))
    nearest = int(np.argmin((xs + 0.5 - image.width / 2) ** 2 + (ys + 0.5 - image.height / 2) ** 2))
    return float(xs[nearest]) + 0.5, float(ys[nearest]) + 0.5


def crop_box(
    image: AnalysisImage,
    target_width: int,
    target_height: int,
    gravity: Gravity = "center",
    focus: tuple[float, float] | None = None,
) -> Box:
    """The box (in ``image``'s pixels) that a ``target_width`` x ``target_height`` cover variant keeps.

    ``focus`` (x, y in 0..1 of the image) centres the box on that point, as near as the edges allow, and
    overrides ``gravity``; ``"smart"`` centres it on the most salient region; ``"center"`` on the picture.
    """
    width, height = cover_size(image.width, image.height, target_width, target_height)
    centre_x, centre_y = image.width / 2, image.height / 2
    if focus is not None:
        centre_x, centre_y = focus[0] * image.width, focus[1] * image.height
    elif gravity == "smart":
        centre_x, centre_y = salient_point(image)
    return Box(_place(centre_x, width, image.width), _place(centre_y, height, image.height), width, height)


def _carry(near: int, size: int, extent: int, source_size: int, source_extent: int) -> int:
    # the box's slack is carried as a fraction, so a box against an edge stays against it
    slack = extent - size
    fraction = near / slack if slack else 0.5
    return round_half_up(fraction * (source_extent - source_size))


def source_box(
    box: Box,
    image_size: tuple[int, int],
    source_size: tuple[int, int],
    target_width: int,
    target_height: int,
) -> Box:
    """``box``, chosen on an analysis image of ``image_size``, in the source's pixels: the source's own cover
    box for the target (exact aspect), placed where ``box`` sits."""
    width, height = cover_size(*source_size, target_width, target_height)
    left = _carry(box.left, box.width, image_size[0], width, source_size[0])
    top = _carry(box.top, box.height, image_size[1], height, source_size[1])
    return Box(left, top, width, height)
