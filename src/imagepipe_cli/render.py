"""``imagepipe render``: the worker's engine on local files, in a process pool, with no services."""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from imagepipe.errors import InvalidRecipe
from imagepipe.recipes import parse_recipe
from imagepipe.settings import get_settings
from imagepipe_cli.offline import FileJob, input_files, largest_first, output_dirs, run
from imagepipe_engine import Limits, engine_name
from imagepipe_engine.select import warm

if TYPE_CHECKING:
    from rich.progress import Progress


def render(
    inputs: Annotated[list[Path], typer.Argument(help="Image files, or folders of them.", exists=True)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Variants go to OUT/<input stem>/<variant>.<ext>.")],
    recipe: Annotated[
        str | None, typer.Option(help="A recipe as JSON, or @FILE to read it from a file. Default: the API's.")
    ] = None,
    engine: Annotated[
        str | None, typer.Option(envvar="IMAGEPIPE_ENGINE", help="vips or pillow. Default: vips where installed.")
    ] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", min=1, help="Processes. Default: one per core.")] = None,
    json_lines: Annotated[bool, typer.Option("--json", help="One JSON object per input, one per line.")] = False,
) -> None:
    """Render images with the worker's engine. Exit 0: all succeeded; 1: any failed; 2: a usage error."""
    settings = get_settings()
    try:
        chosen = engine_name(engine)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--engine") from exc
    try:
        parsed = parse_recipe(_recipe_text(recipe), settings)
    except InvalidRecipe as exc:
        raise typer.BadParameter(exc.message, param_hint="--recipe") from exc
    files = list(input_files(inputs))
    if not files:
        raise typer.BadParameter("no files in the folders given", param_hint="INPUTS")
    limits = Limits(
        settings.max_pixels, settings.max_frames, settings.max_output_dimension, settings.max_animation_pixels
    )
    processes = min(jobs or os.cpu_count() or 1, len(files))
    # spawn: the progress bar runs a thread, and forking a threaded process is unsafe
    with ProcessPoolExecutor(
        processes, mp_context=multiprocessing.get_context("spawn"), initializer=warm, initargs=(chosen,)
    ) as pool:
        for _ in range(processes):  # start every process now: each imports its engine while this one goes on
            pool.submit(int)
        work = [
            FileJob(path, out_dir, chosen, parsed, limits, settings.max_upload_bytes)
            for path, out_dir in zip(files, output_dirs(files, out), strict=True)
        ]
        failed = _run_all(pool, largest_first(work), json_lines)
    raise typer.Exit(1 if failed else 0)


def _recipe_text(recipe: str | None) -> str | None:
    if recipe is None or not recipe.startswith("@"):
        return recipe
    try:
        return Path(recipe[1:]).read_text()
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {recipe[1:]}: {exc.strerror}", param_hint="--recipe") from exc


def _run_all(pool: Executor, work: list[FileJob], json_lines: bool) -> int:
    """Render every job in ``pool``, in the order given, reporting each as it finishes; the number that failed."""
    failed = 0
    progress = _progress() if sys.stdout.isatty() and not json_lines else None
    futures = [pool.submit(run, job) for job in work]
    task = progress.add_task("rendering", total=len(work)) if progress else None
    if progress:
        progress.start()
    try:
        for future in as_completed(futures):
            result = future.result()
            failed += result["status"] != "succeeded"
            _report(result, json_lines, progress)
            if progress and task is not None:
                progress.advance(task)
    finally:
        if progress:
            progress.stop()
    return failed


def _progress() -> Progress:
    # rich is imported only for a terminal: about 35 ms off the start of every other run
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=False
    )


def _report(result: dict[str, Any], json_lines: bool, progress: Progress | None) -> None:
    if json_lines:
        print(json.dumps(result), flush=True)
        return
    if result["status"] == "succeeded":
        line = f"ok      {result['input']} -> {len(result['variants'])} variants"
    else:
        line = f"failed  {result['input']}: {result['error']['code']}: {result['error']['message']}"
    if progress is not None:
        progress.console.print(line, markup=False, highlight=False)
    else:
        print(line, flush=True)
