"""Engine-neutral analysis of one small copy of an image: placeholders, a perceptual hash, a crop box.

Both render engines call these with the same ``AnalysisImage``, so they agree on every result.
"""

from imagepipe_analysis.colour import dominant_colour
from imagepipe_analysis.crop import Box, Gravity, cover_size, crop_box, source_box
from imagepipe_analysis.image import MAX_SIDE, AnalysisImage, analysis_size, box_reduction, from_pil
from imagepipe_analysis.phash import BANDS, bands, hamming, phash
from imagepipe_analysis.placeholders import Placeholder, placeholders

__all__ = [
    "BANDS",
    "MAX_SIDE",
    "AnalysisImage",
    "Box",
    "Gravity",
    "Placeholder",
    "analysis_size",
    "bands",
    "box_reduction",
    "cover_size",
    "crop_box",
    "dominant_colour",
    "from_pil",
    "hamming",
    "phash",
    "placeholders",
    "source_box",
]
