"""``imagepipe render``: the worker's engine on local files, in a process pool, with no services."""

from __future__ import annotations

import json
import os
import sys
from concurrent.futures import Executor, Future, as_completed
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from imagepipe_cli import pool
from imagepipe_cli.files import input_files, is_input_folder, output_dirs
from imagepipe_cli.interrupts import Interrupts
from imagepipe_cli.offline import FileJob, Setup, exit_now, largest_first, prepare, run

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
    try:
        text = _recipe_text(recipe)
    except typer.BadParameter:
        _check(prepare(engine, None))  # an unknown engine is told first
        raise
    # checked here while the pool's server imports the engine on another core (pool.py)
    setup = _check(prepare(engine, text))
    if is_input_folder(out, inputs):
        message = f"{out} is an input folder: its variants would be read back as inputs"
        raise typer.BadParameter(message, param_hint="--out")
    files = list(input_files(inputs, out))
    if not files:
        raise typer.BadParameter("no files in the folders given", param_hint="INPUTS")
    _make_folder(out)
    processes = min(jobs or os.cpu_count() or 1, len(files))
    with pool.pool(processes, setup.engine) as executor:
        work = [FileJob(path, out_dir, setup) for path, out_dir in zip(files, output_dirs(files, out), strict=True)]
        failed = _run_all(executor, largest_first(work), json_lines)
    # on stderr: stdout keeps one line (or JSON object) per input for scripts
    print(f"{len(work)} inputs: {len(work) - failed} succeeded, {failed} failed; variants in {out}", file=sys.stderr)
    # every line printed, every pool process gone: the interpreter's teardown is all that is left, and with
    # typer and the models loaded it took 0.1 s of the command's time (measured)
    exit_now(1 if failed else 0)


def _make_folder(out: Path) -> None:
    """``--out``, made now: a path that cannot be a folder is a usage error, not a failure of every file."""
    if out.exists() and not out.is_dir():
        raise typer.BadParameter(f"{out} is a file, not a folder", param_hint="--out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise typer.BadParameter(f"cannot make {out}: {exc.strerror or exc}", param_hint="--out") from exc


def _check(prepared: tuple[str, str] | Setup) -> Setup:
    """:func:`prepare`'s setup; a usage error when it found one."""
    if isinstance(prepared, tuple):
        option, message = prepared
        raise typer.BadParameter(message, param_hint=option)
    return prepared


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
    reported: set[Future[dict[str, Any]]] = set()
    interrupts = Interrupts()

    def report(future: Future[dict[str, Any]]) -> None:
        nonlocal failed
        with interrupts.held():  # a Ctrl-C now comes after the line is printed and recorded: never twice
            result = future.result()
            failed += result["status"] != "succeeded"
            _report(result, json_lines, progress)
            reported.add(future)
            if progress and task is not None:
                progress.advance(task)

    with interrupts.installed():
        try:
            for future in as_completed(futures):
                report(future)
        except KeyboardInterrupt:
            # Ctrl-C: nothing new starts; the pool processes ignore it (offline.warm) and finish the files they
            # are on, so no variant is left half written, and those are reported before the command stops,
            # however often Ctrl-C is pressed meanwhile (interrupts.py drops the later presses)
            started = [future for future in futures if not future.cancel() and future not in reported]
            for future in as_completed(started):
                report(future)
            raise
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
