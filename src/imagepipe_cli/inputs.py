"""What ``submit PATHS...`` means: files, folders (recursively) and globs, images told by their bytes."""

from __future__ import annotations

import glob
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from imagepipe.sniff import HEAD_BYTES, UNKNOWN, sniff_content_type


@dataclass(frozen=True)
class Input:
    path: Path
    content_type: str
    """from the file's first bytes; :data:`~imagepipe.sniff.UNKNOWN` when it is not an image"""

    @property
    def is_image(self) -> bool:
        return self.content_type != UNKNOWN


@dataclass
class Found:
    inputs: list[Input] = field(default_factory=list)
    """images, and files named on the command line that are not (they are refused, one row each)"""
    skipped: list[Path] = field(default_factory=list)
    """files in a folder or matched by a glob that are not images: left out"""
    missing: list[str] = field(default_factory=list)
    """arguments that name nothing"""


def _sniff(path: Path) -> str:
    try:
        with path.open("rb") as f:
            return sniff_content_type(f.read(HEAD_BYTES))
    except OSError:
        return UNKNOWN


def _expand(arg: str) -> tuple[list[Path], bool] | None:
    """The files ``arg`` names and whether it named them one by one; None when it names nothing."""
    path = Path(arg)
    if path.is_file():
        return [path], True
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file()), False
    if glob.has_magic(arg):
        matches = [Path(m) for m in sorted(glob.glob(arg, recursive=True))]
        files = [f for m in matches for f in ([m] if m.is_file() else sorted(m.rglob("*")) if m.is_dir() else [])]
        return ([f for f in files if f.is_file()], False) if files else None
    return None


def collect(args: Sequence[str]) -> Found:
    """Every file the arguments name, once each, in the order given."""
    found = Found()
    seen: set[Path] = set()
    for arg in args:
        expanded = _expand(arg)
        if expanded is None:
            found.missing.append(arg)
            continue
        files, named = expanded
        for path in files:
            if (resolved := path.resolve()) in seen:
                continue
            seen.add(resolved)
            item = Input(path, _sniff(path))
            if item.is_image or named:
                found.inputs.append(item)
            else:
                found.skipped.append(path)
    return found
