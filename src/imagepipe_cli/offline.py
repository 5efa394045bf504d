"""Rendering local files with an engine, no services: what every job needs, and one file's job (read,
render, write). The job runs in a process of ``imagepipe render``'s pool; files.py says which files there are.

The command's own process checks the engine and the recipe and makes what every job needs (:func:`prepare`,
which imports the settings and the models) while its pool's server imports the engine (preload.py): the two
run side by side, on two cores, and the server's imports take longer. Each pool process then sets its engine
up once (:func:`_setup`).
"""

from __future__ import annotations

import atexit
import errno
import os
import signal
import stat
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from imagepipe.models import Recipe
    from imagepipe_engine import Limits, Render


@dataclass(frozen=True)
class Setup:
    """What every job needs, as :func:`prepare` made it of the command's options: plain values, which pickle
    small into every job, and which a pool process turns into the engine's arguments once (:func:`_setup`)."""

    engine: str
    recipe: str  # the recipe, validated and normalised, as JSON
    limits: tuple[int, int, int, int]  # imagepipe_engine.Limits' fields, in order
    max_bytes: int


@dataclass(frozen=True)
class FileJob:
    """One input file, the folder its variants go to, and how to render it."""

    source: Path
    out_dir: Path
    setup: Setup


def largest_first(work: list[FileJob]) -> list[FileJob]:
    """The jobs, the largest files first: the longest renders start early, so no process is left with one
    while the others have nothing to do (a PNG takes three times a JPEG of the same pixels)."""
    return sorted(work, key=lambda job: _size(job.source), reverse=True)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # run() reports it


def prepare(engine: str | None, recipe: str | None) -> tuple[str, str] | Setup:
    """What is wrong with the ``IMAGEPIPE_`` environment, ``--engine`` or ``--recipe`` (the variable or the
    option, and the message), in that order; else what every job needs. Run in the command's process, before
    the pool's server is ready (preload.py imports neither the settings nor the recipes for it)."""
    from pydantic import ValidationError

    from imagepipe.errors import InvalidRecipe
    from imagepipe.recipes import parse_recipe
    from imagepipe.settings import environment_errors, get_settings
    from imagepipe_engine import engine_name

    try:
        settings = get_settings()
    except ValidationError as exc:  # a variable of the environment: named, as an option would be
        wrong = environment_errors(exc)
        return ", ".join(name for name, _ in wrong), "; ".join(message for _, message in wrong)
    try:
        chosen = engine_name(engine)
    except ValueError as exc:
        return "--engine", str(exc)
    try:
        parsed = parse_recipe(recipe, settings)
    except InvalidRecipe as exc:
        return "--recipe", exc.message
    limits = (settings.max_pixels, settings.max_frames, settings.max_output_dimension, settings.max_animation_pixels)
    return Setup(chosen, parsed.model_dump_json(), limits, settings.max_upload_bytes)


def warm(engine: str | None) -> None:
    """A pool process's initializer: import the engine and build what its first render needs, before a job
    arrives. An engine that cannot be had is left to :func:`prepare` to report."""
    from imagepipe_engine.select import engine_name, warm

    atexit.register(exit_now)
    # Ctrl-C reaches every process of the terminal's group: the command stops the pool (render._run_all),
    # and a pool process finishes the file it is on rather than die halfway through writing its variants
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        engine_name(engine)
    except ValueError:
        return
    warm(engine)


def exit_now(code: int = 0) -> NoReturn:
    """A pool process's last act (and its server's, preload.py, and the command's once its pool is shut
    down, render.py): skip the interpreter's teardown, which the command waits for (0.1-0.2 s with the
    engine's libraries or the models loaded, measured). By then the process has sent its last result or
    printed its last line, closed every file it wrote and run multiprocessing's finalizers; only the standard
    streams could hold anything."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


@cache
def _setup(setup: Setup) -> tuple[Render, Recipe, Limits]:
    """The engine's render function, the recipe and the limits of ``setup``: once a process."""
    from imagepipe.models import Recipe
    from imagepipe_engine import Limits, engine

    return engine(setup.engine), Recipe.model_validate_json(setup.recipe), Limits(*setup.limits)


def run(job: FileJob) -> dict[str, Any]:
    """Render one file and write its variants; the JSON line ``imagepipe render --json`` prints for it."""
    from imagepipe.errors import ImagePipeError

    render, recipe, limits = _setup(job.setup)
    max_bytes = job.setup.max_bytes
    result: dict[str, Any] = {"input": str(job.source), "status": "failed", "variants": [], "metadata": None}
    try:
        rendered = render(_read(job.source, max_bytes), recipe, limits)
    except ImagePipeError as exc:
        return {**result, "error": exc.as_dict()}
    except OSError as exc:
        return {**result, "error": {"code": "unreadable", "message": f"{type(exc).__name__}: {exc}"}}
    variants = []
    try:
        job.out_dir.mkdir(parents=True, exist_ok=True)
        for variant in rendered.variants:
            path = job.out_dir / f"{variant.name}.{variant.format.extension}"
            _write_whole(path, variant.data)
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
    except OSError as exc:  # a full disk, a folder we may not write: this file's failure, not the run's
        message = f"{type(exc).__name__}: {exc}"
        return {**result, "variants": variants, "error": {"code": "unwritable", "message": message}}
    metadata = rendered.metadata.model_dump(mode="json")
    return {**result, "status": "succeeded", "variants": variants, "metadata": metadata, "error": None}


def _read(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, up to the API's limit (and its error) past which nothing more is read. A FIFO or a
    device (``/dev/zero``) is not a file: it could block the run or never end, so it is refused unread."""
    from imagepipe.errors import ImageTooLarge

    # O_NONBLOCK: opening a FIFO would otherwise wait for a writer (a regular file's reads ignore it)
    with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        data = file.read(max_bytes + 1)  # one byte more than allowed tells a file that is too large
    if len(data) > max_bytes:
        size = path.stat().st_size
        raise ImageTooLarge(f"the file has {max(size, len(data))} bytes; the limit is {max_bytes}")
    return data


def _write_whole(path: Path, data: bytes) -> None:
    """``data`` at ``path``, whole or not at all: written beside it under a hidden name, then renamed."""
    part = path.with_name(f".{path.name}.part")
    try:
        part.write_bytes(data)
        part.replace(path)
    except OSError:
        part.unlink(missing_ok=True)
        raise
