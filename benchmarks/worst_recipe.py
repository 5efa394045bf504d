"""How long one worker process spends on the most expensive recipe the default limits allow, on 50 MP.

    python benchmarks/worst_recipe.py [--megapixels 50] [--runs 1]

Renders in this one process (as one imaging worker does) with the worker's own ``render()``: every
candidate recipe, on a 50 MP JPEG and on the same picture as a PNG (no draft: decoded in full), and
prints seconds per render, wall and CPU (every thread of this process: the figure that holds on a
shared machine). Each recipe is first checked by ``parse_recipe`` with default settings.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for extra in ("layers/shared", "src", "benchmarks"):
    sys.path.insert(0, str(ROOT / extra))

from PIL import Image  # noqa: E402

import corpus  # noqa: E402
from imagepipe.recipes import parse_recipe  # noqa: E402
from imagepipe.settings import Settings  # noqa: E402
from imagepipe_engine import Limits, engine  # noqa: E402

_FILTERS: list[dict[str, Any]] = [
    {"op": "blur", "radius": 50.0},
    {"op": "sharpen"},
    {"op": "autocontrast", "cutoff": 49.0},
    {"op": "blur", "radius": 50.0},
    {"op": "sharpen"},
    {"op": "autocontrast", "cutoff": 49.0},
    {"op": "blur", "radius": 50.0},
    {"op": "blur", "radius": 50.0},
]

CANDIDATES: dict[str, dict[str, Any]] = {
    # the budget (25 MP, an AVIF pixel counting 4) spent on the slowest encoders, padded to full boxes
    "avif-heavy": {
        "variants": [
            {"name": "a", "width": 2048, "height": 2048, "fit": "contain", "format": "avif", "quality": 100},
            {"name": "p", "width": 2048, "height": 2048, "fit": "contain", "format": "png"},
            {"name": "w", "width": 2048, "height": 1958, "fit": "cover", "format": "webp", "quality": 100},
        ],
        "filters": _FILTERS,
    },
    # the largest variant allowed (draws the biggest draft, so the filters run on the most pixels)
    "largest-variant": {
        "variants": [
            {"name": "big", "width": 4096, "height": 4096, "fit": "contain", "format": "png"},
            {"name": "a", "width": 1432, "height": 1432, "fit": "cover", "format": "avif", "quality": 100},
        ],
        "filters": _FILTERS,
    },
}


def sources(megapixels: float) -> dict[str, bytes]:
    jpeg = corpus.big_jpeg(megapixels)
    buffer = io.BytesIO()
    with Image.open(io.BytesIO(jpeg)) as im:
        im.save(buffer, "PNG", compress_level=1)
    return {"jpeg": jpeg, "png": buffer.getvalue()}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megapixels", type=float, default=50.0)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args(argv)
    settings = Settings()
    limits = Limits(settings.max_pixels, settings.max_frames, settings.max_output_dimension)
    render = engine(settings.engine)  # the worker's engine: IMAGEPIPE_ENGINE, else vips where it imports
    for kind, data in sources(args.megapixels).items():
        allowed = "allowed" if len(data) <= settings.max_upload_bytes else "over IMAGEPIPE_MAX_UPLOAD_BYTES"
        print(f"source {kind}: {args.megapixels:g} MP, {len(data) / 1e6:.1f} MB ({allowed})")
        for name, raw in CANDIDATES.items():
            recipe = parse_recipe(raw, settings)  # raises if the limits do not allow it
            walls, cpus = [], []
            for _ in range(args.runs):
                wall, cpu = time.perf_counter(), time.process_time()
                render(data, recipe, limits)
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
            print(f"  {name:<16} {min(walls):6.2f} s wall, {min(cpus):6.2f} s CPU  (best of {args.runs})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
