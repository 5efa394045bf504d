"""``imagepipe render``: the worker's engine on local files, in a process pool, with no services."""

from __future__ import annotations

import json
import os
import sys
from concurrent.futures import FIRST_COMPLETED, Executor, Future, as_completed, wait
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from imagepipe_cli import pool
from imagepipe_cli.files import input_files, is_input_folder, output_dirs, some_of
from imagepipe_cli.interrupts import Interrupts
from imagepipe_cli.offline import FileJob, Setup, exit_now, largest_first, prepare, run
from imagepipe_cli.tally import Tally, plural

if TYPE_CHECKING:
    from rich.progress import Progress


def render(
    inputs: Annotated[
        list[Path], typer.Argument(help="Image files, or folders of them.", exists=True, metavar="INPUTS")
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            metavar="DIR",
            help="Variants go to DIR/<input stem>/<variant>.<ext>; a stem met again gets -2, -3...",
        ),
    ],
    recipe: Annotated[
        str | None,
        typer.Option(
            metavar="JSON|@FILE", help="A recipe as JSON, or @FILE to read it from a file. Default: the API's."
        ),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            envvar="IMAGEPIPE_ENGINE", metavar="vips|pillow", help="The engine. Default: vips where installed."
        ),
    ] = None,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", min=1, metavar="N", help="Processes. Default: one per core.")
    ] = None,
    json_lines: Annotated[
        bool, typer.Option("--json", metavar="", help="One JSON object per input, one per line.")
    ] = False,
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
    files, left_out = input_files(inputs, out)
    if not files:
        raise typer.BadParameter("no images in the folders given", param_hint="INPUTS")
    if left_out:
        print(f"left out, not images ({len(left_out)}): {some_of(left_out)}", file=sys.stderr)
    _make_folder(out)
    processes = min(jobs or os.cpu_count() or 1, len(files))
    work = [FileJob(path, out_dir, setup) for path, out_dir in zip(files, output_dirs(files, out), strict=True)]
    tally = Tally(len(work))
    interrupts = Interrupts()
    with interrupts.installed():
        try:
            with ExitStack() as stack:
                with interrupts.held():  # a pool half made on Ctrl-C would be left to its processes' start
                    executor = stack.enter_context(pool.pool(processes, setup.engine))
                _run_all(executor, largest_first(work), processes, json_lines, interrupts, tally)
        except KeyboardInterrupt:  # before the first file was handed over, or while the pool shut down
            tally.stopped = tally.stopped or interrupts.why()
    # on stderr: stdout keeps one line (or JSON object) per input for scripts
    print(tally.summary(out), file=sys.stderr)
    # every line printed, every pool process gone: the interpreter's teardown is all that is left, and with
    # typer and the models loaded it took 0.1 s of the command's time (measured)
    exit_now(tally.exit_code())


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
    """``--recipe``'s JSON: the option's own, or ``@FILE``'s (UTF-8, a byte-order mark allowed)."""
    if recipe is None:
        return None
    if not recipe.strip():  # an unset shell variable, most likely: not the default recipe, silently
        raise typer.BadParameter("empty: give a recipe as JSON, or @FILE", param_hint="--recipe")
    if not recipe.startswith("@"):
        if not recipe.lstrip().startswith(("{", "[")) and Path(recipe).is_file():
            raise typer.BadParameter(f"not JSON; to read the file, write @{recipe}", param_hint="--recipe")
        return recipe
    name = recipe[1:]
    if not name:
        raise typer.BadParameter("@ needs a file name: @recipe.json", param_hint="--recipe")
    try:
        return Path(name).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise typer.BadParameter(f"cannot read {name}: not UTF-8 text", param_hint="--recipe") from exc
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {name}: {exc.strerror}", param_hint="--recipe") from exc


def _run_all(
    pool: Executor, work: list[FileJob], window: int, json_lines: bool, interrupts: Interrupts, tally: Tally
) -> None:
    """Render every job in ``pool``, in the order given, reporting each as it finishes, into ``tally``.

    No more jobs are handed to the pool than it has processes: one it holds has started, as far as the
    pool is concerned, and would be rendered after a Ctrl-C. After one, or once stdout is closed (``| head``),
    nothing new starts: the pool processes ignore Ctrl-C (offline.warm) and finish the files they are on, so
    no variant is left half written, and those are reported before the command stops, however often Ctrl-C
    is pressed meanwhile (interrupts.py drops the later presses)."""
    progress = _progress() if sys.stdout.isatty() and not json_lines else None
    task = progress.add_task("rendering", total=len(work)) if progress else None
    if progress:
        progress.start()
    waiting = iter(work)
    running: set[Future[dict[str, Any]]] = set()

    def start_next() -> None:
        with interrupts.held():  # a future is either running and known, or not submitted
            if (job := next(waiting, None)) is not None:
                running.add(pool.submit(run, job))

    def report(future: Future[dict[str, Any]]) -> None:
        with interrupts.held():  # a Ctrl-C now comes after the line is printed and recorded: never twice
            running.discard(future)
            result = future.result()
            tally.count(result["status"])
            if progress and task is not None:
                progress.advance(task)
            tally.show(lambda: _report(result, json_lines, progress))

    try:
        for _ in range(window):
            start_next()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                report(future)
            for _ in done:
                if tally.stopped:
                    break
                start_next()
    except KeyboardInterrupt:
        tally.stopped = tally.stopped or interrupts.why()
        for future in as_completed(list(running)):
            report(future)
    finally:
        if progress:
            progress.stop()


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
        line = f"ok      {result['input']} -> {plural(len(result['variants']), 'variant')}"
    else:
        line = f"failed  {result['input']}: {result['error']['code']}: {result['error']['message']}"
    if progress is not None:
        progress.console.print(line, markup=False, highlight=False, soft_wrap=True)  # a long path stays whole
    else:
        print(line, flush=True)
