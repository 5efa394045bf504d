"""Which files ``imagepipe render``'s inputs name, and the folder each one's variants go to.

Plain paths only (no dataclasses, no engine): the command reads them before its pool's server starts
(pool.py), so whatever this module imports delays every pool process."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from imagepipe.sniff import HEAD_BYTES, UNKNOWN, sniff_content_type


def input_files(inputs: Iterable[Path], out: Path | None = None) -> tuple[list[Path], list[Path]]:
    """The files to render, and those left out. Files as given are rendered whatever they hold (one that is
    not an image fails, as the user asked for it). Under a folder (sorted; hidden ones, and any under ``out``,
    skipped: a run into a folder inside its input does not render the variants an earlier run left there),
    only images are: a file whose first bytes announce no image format we take (a README, a LICENSE) is
    left out, as ``imagepipe submit`` leaves it out. A file met twice (named twice, or named and in a folder
    given) is rendered once, where it is first met."""
    files: list[Path] = []
    left_out: list[Path] = []
    seen: set[Path] = set()
    for path in inputs:
        for found in sorted(_files_under(path, out)) if path.is_dir() else [path]:
            if (resolved := found.resolve()) in seen:
                continue  # named twice, or also in a folder given: rendered once
            seen.add(resolved)
            (files if found is path or _looks_like_an_image(found) else left_out).append(found)
    return files, left_out


def some_of(paths: Sequence[Path], shown: int = 5) -> str:
    """The first ``shown`` paths, then ``...`` when there are more: a note's list of files left out."""
    return ", ".join(str(path) for path in paths[:shown]) + (" ..." if len(paths) > shown else "")


def _looks_like_an_image(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            head = file.read(HEAD_BYTES)
    except OSError:
        return True  # the run reports it as unreadable
    return sniff_content_type(head) != UNKNOWN


def any_input_file(inputs: Iterable[Path], out: Path | None = None) -> bool:
    """Whether :func:`input_files` yields anything, found without walking every folder whole."""
    return any(not path.is_dir() or next(_files_under(path, out), None) is not None for path in inputs)


def is_input_folder(out: Path, inputs: Iterable[Path]) -> bool:
    """Whether ``out`` is one of the input folders itself: every variant would be read back as an input."""
    return any(path.is_dir() and _parts_within(out, path) == () for path in inputs)


def _files_under(folder: Path, out: Path | None) -> Iterator[Path]:
    """The files under ``folder``, in no order, hidden ones (or in hidden folders) and those under ``out`` skipped."""
    inside = _parts_within(out, folder) if out is not None else None
    for path in folder.rglob("*"):
        parts = path.relative_to(folder).parts
        if inside is not None and parts[: len(inside)] == inside:
            continue
        if path.is_file() and not any(part.startswith(".") for part in parts):
            yield path


def _parts_within(path: Path, folder: Path) -> tuple[str, ...] | None:
    """``path`` relative to ``folder``, part by part, when it lies within it (``()``: it is the folder)."""
    try:
        return path.resolve().relative_to(folder.resolve()).parts
    except ValueError:
        return None


def output_dirs(files: list[Path], out: Path) -> list[Path]:
    """``out/<stem>`` for each file, no two alike: a stem met before gets ``-2``, ``-3``..., skipping any name
    that is another input's own stem (``a/hopper.jpg``, ``b/hopper.jpg`` and ``hopper-2.png`` go to ``hopper``,
    ``hopper-3`` and ``hopper-2``). A hidden file's folder is not hidden: ``.h.jpg`` goes to ``h``."""
    names = [path.stem.lstrip(".") or "image" for path in files]
    taken = set(names)  # every input's own stem is reserved for the first input that has it
    first: set[str] = set()
    dirs = []
    for name in names:
        if name in first:
            count = 2
            while f"{name}-{count}" in taken:
                count += 1
            name = f"{name}-{count}"
            taken.add(name)
        first.add(name)
        dirs.append(out / name)
    return dirs
