"""Which files ``imagepipe render``'s inputs name, and the folder each one's variants go to.

Plain paths only (no dataclasses, no engine): the command reads them before its pool's server starts
(pool.py), so whatever this module imports delays every pool process."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path


def input_files(inputs: Iterable[Path], out: Path | None = None) -> Iterator[Path]:
    """Files as given, and every file under a folder (sorted, hidden ones skipped, and none under ``out``: a
    run into a folder inside its input does not render the variants an earlier run left there)."""
    for path in inputs:
        if path.is_dir():
            yield from sorted(_files_under(path, out))
        else:
            yield path


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
    """``out/<stem>`` for each file; a stem met before gets ``-2``, ``-3``... so no file overwrites another's."""
    seen: dict[str, int] = {}
    dirs = []
    for path in files:
        seen[path.stem] = seen.get(path.stem, 0) + 1
        dirs.append(out / (path.stem if seen[path.stem] == 1 else f"{path.stem}-{seen[path.stem]}"))
    return dirs
