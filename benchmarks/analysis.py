"""Cost of the engine-neutral analysis per 12 MP image: ``.venv/bin/python benchmarks/analysis.py``.

Prints milliseconds per call, the best and the median of ``--repeat`` runs on one core (on a shared machine
the best is the cost, the median what neighbours make of it): making the analysis image from a decoded
12 MP Pillow image, then each analysis on it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "benchmarks")]

from corpus import photo  # noqa: E402
from imagepipe_analysis import crop_box, from_pil, phash, placeholders  # noqa: E402
from imagepipe_analysis.placeholders import blurhash_of, thumbhash_of  # noqa: E402


def timings_ms(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    call()  # warm caches (numpy, the DCT matrix)
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return min(samples), statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    source = photo(0, 4000, 3000)
    image = from_pil(source)
    rows = {
        "analysis image (12 MP decoded -> 256 px)": lambda: from_pil(source),
        "placeholders (both)": lambda: placeholders(image),
        "  blurhash": lambda: blurhash_of(image),
        "  thumbhash": lambda: thumbhash_of(image),
        "phash": lambda: phash(image),
        "crop_box smart": lambda: crop_box(image, 256, 256, "smart"),
    }
    print(f"analysis image {image.width}x{image.height} from a {source.width}x{source.height} source")
    print(f"{'ms per call':<44} {'best':>8} {'median':>8}")
    for name, call in rows.items():
        repeat = max(3, args.repeat // 4) if name.startswith("analysis image") else args.repeat
        best, median = timings_ms(call, repeat)
        print(f"{name:<44} {best:8.2f} {median:8.2f}")


if __name__ == "__main__":
    main()
