"""Rendering local files with an engine, no services: which files an input names, where each one's variants
go, and one file's job (read, render, write). The job runs in a process of ``imagepipe render``'s pool."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imagepipe.errors import ImagePipeError
from imagepipe.models import Recipe
from imagepipe_engine import EngineName, Limits, engine


@dataclass(frozen=True)
class FileJob:
    """One input file and the folder its variants go to."""

    source: Path
    out_dir: Path
    engine: EngineName
    recipe: Recipe
    limits: Limits
    max_bytes: int


def input_files(inputs: Iterable[Path]) -> Iterator[Path]:
    """Files as given, and every file under a folder (sorted, hidden ones skipped)."""
    for path in inputs:
        if path.is_dir():
            yield from sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        else:
            yield path


def output_dirs(files: list[Path], out: Path) -> list[Path]:
    """``out/<stem>`` for each file; a stem met before gets ``-2``, ``-3``... so no file overwrites another's."""
    seen: dict[str, int] = {}
    dirs = []
    for path in files:
        seen[path.stem] = seen.get(path.stem, 0) + 1
        dirs.append(out / (path.stem if seen[path.stem] == 1 else f"{path.stem}-{seen[path.stem]}"))
    return dirs


def largest_first(work: list[FileJob]) -> list[FileJob]:
    """The jobs, the largest files first: the longest renders start early, so no process is left with one
    while the others have nothing to do (a PNG takes three times a JPEG of the same pixels)."""
    return sorted(work, key=lambda job: _size(job.source), reverse=True)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # run() reports it


def run(job: FileJob) -> dict[str, Any]:
    """Render one file and write its variants; the JSON line ``imagepipe render --json`` prints for it."""
    result: dict[str, Any] = {"input": str(job.source), "status": "failed", "variants": [], "metadata": None}
    try:
        size = job.source.stat().st_size
        if size > job.max_bytes:
            raise OSError(f"{size} bytes is more than the limit of {job.max_bytes}")
        rendered = engine(job.engine)(job.source.read_bytes(), job.recipe, job.limits)
    except ImagePipeError as exc:
        return {**result, "error": exc.as_dict()}
    except OSError as exc:
        return {**result, "error": {"code": "unreadable", "message": f"{type(exc).__name__}: {exc}"}}
    job.out_dir.mkdir(parents=True, exist_ok=True)
    variants = []
    for variant in rendered.variants:
        path = job.out_dir / f"{variant.name}.{variant.format.extension}"
        path.write_bytes(variant.data)
        variants.append(
            {
                "name": variant.name,
                "path": str(path),
                "width": variant.width,
                "height": variant.height,
                "format": variant.format.value,
                "bytes": len(variant.data),
            }
        )
    metadata = rendered.metadata.model_dump(mode="json")
    return {**result, "status": "succeeded", "variants": variants, "metadata": metadata, "error": None}
