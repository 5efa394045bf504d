"""Instructions per image, counted by valgrind's callgrind: the vips engine against the bare pyvips limit
(bare_vips.py) on the same files. A count, not a time: the same total for the same binaries and inputs however
busy the machine is, so a change of a few per cent in the engine's own work shows without a quiet machine.

``python benchmarks/instructions.py [--images N]`` (about a minute; needs ``valgrind``). Each way runs in a
process of its own under callgrind, after a warm-up render; a third process only warms up, and its count is
taken from both, so imports and set-up are left out. Not part of ``make bench``: valgrind runs the code some
fifty times slower. The engine's extra instructions by function: ``callgrind_annotate`` on the files it keeps.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ["VIPS_CONCURRENCY"] = "1"

HERE = Path(__file__).resolve().parent
WAYS = ("none", "engine", "bare")


def run(way: str, files: list[Path]) -> None:
    """Warm up on the first file, then render every file ``way`` (or nothing, for ``none``)."""
    sys.path.insert(0, str(HERE))
    import bare_vips
    from imagepipe.models import DEFAULT_RECIPE
    from imagepipe_engine import Limits, engine

    render, limits = engine("vips"), Limits(60_000_000, 100, 4096)
    datas = [path.read_bytes() for path in files]
    render(datas[0], DEFAULT_RECIPE, limits)
    bare_vips.variants(datas[0])
    for data in datas if way != "none" else []:
        if way == "engine":
            render(data, DEFAULT_RECIPE, limits)
        else:
            bare_vips.variants(data)


def counted(way: str, files: list[Path], out: Path) -> int:
    """The instructions callgrind counts for ``way`` in a process of its own."""
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out / way}.out", sys.executable]
    done = subprocess.run(
        [*command, __file__, "--way", way, *map(str, files)], capture_output=True, text=True, check=True
    )
    match = re.search(r"Collected : (\d+)", done.stderr)
    if match is None:
        raise RuntimeError(f"callgrind printed no count for {way}: {done.stderr[-500:]}")
    return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5, help="of the bench corpus's 12 MP files (every 5th a PNG)")
    parser.add_argument("--way", choices=WAYS, help=argparse.SUPPRESS)
    parser.add_argument("files", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.way:
        run(args.way, args.files)
        return
    import corpus

    corpus.build(40, 12.0)
    files = sorted(corpus.folder(40, 12.0).iterdir())[: args.images]
    out = Path(tempfile.mkdtemp(prefix="imagepipe-callgrind-"))
    with ThreadPoolExecutor(len(WAYS)) as pool:
        counts = dict(zip(WAYS, pool.map(lambda way: counted(way, files, out), WAYS), strict=True))
    engine, bare = ((counts[way] - counts["none"]) / len(files) / 1e6 for way in ("engine", "bare"))
    print(f"{len(files)} files: engine {engine:.0f} M, bare {bare:.0f} M instructions per image")
    print(f"bare / engine: {bare / engine:.3f} (callgrind's files: {out})")


if __name__ == "__main__":
    main()
