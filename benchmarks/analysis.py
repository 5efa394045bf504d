"""Cost of each analysis per 12 MP image, on each engine: ``.venv/bin/python benchmarks/analysis.py``
(``make bench`` runs it too and records the figures).

Each engine decodes a 12 MP photo-like JPEG as it does for the default recipe, then is timed making its
analysis image from the decoded source, and the analyses are timed on that image: placeholders (BlurHash and
ThumbHash), the perceptual hash, and a smart crop box. Milliseconds per call, the best and the median of
``--repeat`` runs on one core (on a shared machine the best is the cost, the median what neighbours make of it).
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "layers" / "shared"), str(ROOT / "benchmarks")]

from corpus import photo  # noqa: E402
from imagepipe.models import DEFAULT_RECIPE  # noqa: E402
from imagepipe_analysis import crop_box, phash, placeholders  # noqa: E402
from imagepipe_analysis.placeholders import blurhash_of, thumbhash_of  # noqa: E402
from imagepipe_engine import Limits, pillow, vips  # noqa: E402

LIMITS = Limits(max_pixels=60_000_000, max_frames=100, max_output_dimension=4096)
STEPS = ("analysis_image", "placeholders", "blurhash", "thumbhash", "phash", "smart_box")


def timings_ms(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    call()  # warm caches (numpy, the DCT matrix)
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return min(samples), statistics.median(samples)


def jpeg(megapixels: float) -> bytes:
    width = round((megapixels * 1e6 * 4 / 3) ** 0.5)
    buffer = io.BytesIO()
    photo(0, width, round(width * 3 / 4)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def measure(megapixels: float = 12.0, repeat: int = 20) -> dict[str, tuple[float, float]]:
    """``{"<step>_<engine>": (best, median)}`` in milliseconds."""
    data = jpeg(megapixels)
    found: dict[str, tuple[float, float]] = {}
    for name, module in (("vips", vips), ("pillow", pillow)):
        source = module.decode(data, DEFAULT_RECIPE, LIMITS)[1]
        image = module.analysis_image(source)
        calls: dict[str, Callable[[], object]] = {
            "analysis_image": partial(module.analysis_image, source),
            "placeholders": partial(placeholders, image),
            "blurhash": partial(blurhash_of, image),
            "thumbhash": partial(thumbhash_of, image),
            "phash": partial(phash, image),
            "smart_box": partial(crop_box, image, 256, 256, "smart"),
        }
        for step in STEPS:
            found[f"{step}_{name}"] = timings_ms(
                calls[step], max(3, repeat // 4) if step == "analysis_image" else repeat
            )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--megapixels", type=float, default=12.0)
    args = parser.parse_args()
    print(f"{'ms per call, ' + str(args.megapixels) + ' MP JPEG':<32} {'best':>8} {'median':>8}")
    for name, (best, median) in measure(args.megapixels, args.repeat).items():
        print(f"{name:<32} {best:8.2f} {median:8.2f}")


if __name__ == "__main__":
    main()
