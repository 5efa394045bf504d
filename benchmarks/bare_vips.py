"""The bare libvips limit: the default recipe's variants made with pyvips and nothing else (no header
checks, colour management, metadata or analysis), set up as the engine sets libvips up (one thread, no
cache). ``python benchmarks/bare_vips.py FOLDER OUT PROCESSES`` renders a folder in a fresh process pool, as
``imagepipe render`` would, and prints the seconds it took."""

from __future__ import annotations

import os

os.environ["VIPS_CONCURRENCY"] = "1"

import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pyvips

pyvips.cache_set_max(0)
pyvips.cache_set_max_mem(0)
pyvips.cache_set_max_files(0)

# the default recipe: a 256 px cover WebP, 1024 px and 2048 px inside JPEGs
THUMB, MEDIUM, LARGE = 256, 1024, 2048


def variants(data: bytes) -> list[bytes]:
    """Decode once (shrunk on load as far as the largest variant allows), resampled to the largest variant as
    the loader streams rows out, so the full-size picture is never held (as the vips engine does); then resize
    and encode each smaller variant."""
    probe = pyvips.Image.new_from_buffer(data, "")
    factor = min(1.0, LARGE / max(probe.width, probe.height))
    options: dict[str, object] = {"access": "sequential"}
    if probe.get("vips-loader").startswith("jpegload"):
        options["shrink"] = next(s for s in (8, 4, 2, 1) if s <= max(1, int(1 / factor)))
    image = pyvips.Image.new_from_buffer(data, "", **options)
    # Catmull-Rom, as the engines use (libvips' default, Lanczos 3, costs more); each size made once, in
    # memory, since a lazy pipeline would recompute the larger ones for every smaller one
    large = image.resize(min(1.0, LARGE / max(image.width, image.height)), kernel="cubic").copy_memory()
    medium = large.resize(min(1.0, MEDIUM / max(large.width, large.height)), kernel="cubic").copy_memory()
    crop = THUMB / min(medium.width, medium.height)
    thumb = medium.resize(crop, kernel="cubic").crop(0, 0, THUMB, THUMB)  # from the smallest source; corner crop
    return [
        thumb.webpsave_buffer(Q=80, effort=4, keep=0),
        medium.jpegsave_buffer(Q=82, keep=0),
        large.jpegsave_buffer(Q=85, keep=0),
    ]


def render(data: bytes) -> int:
    return len(variants(data))


def render_file(job: tuple[Path, Path]) -> int:
    source, out = job
    out.mkdir(parents=True, exist_ok=True)
    for name, data in zip(("thumb.webp", "medium.jpg", "large.jpg"), variants(source.read_bytes()), strict=True):
        (out / name).write_bytes(data)
    return 3


def main(folder: Path, out: Path, processes: int) -> float:
    start = time.perf_counter()
    files = sorted(p for p in folder.iterdir() if p.is_file())
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(render_file, [(p, out / p.stem) for p in files]))
    return time.perf_counter() - start


if __name__ == "__main__":
    print(main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])))
