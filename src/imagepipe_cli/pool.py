"""``imagepipe render``'s process pool, started as the command starts, before typer parses its arguments.

Each pool process takes about 0.35 s to import the engine (pydantic, numpy, pyvips, Pillow), and typer takes
0.1-0.2 s to import itself and parse (it builds a pydantic adapter for each parameter): started first, the pool
processes import while this one parses. :func:`start` reads the arguments only as far as it needs to (how
many processes, which engine) and starts nothing when it meets anything it does not know for sure; ``render``
then uses the pool only if it asks for the same one (:func:`take`), and otherwise shuts it down unused. Either
way the arguments are parsed, checked and reported on by typer, as they always were."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from imagepipe_cli.offline import input_files, warm

# render's options that take a value, and the flag it has
_VALUED = {"--out": "out", "-o": "out", "--recipe": "recipe", "--engine": "engine", "--jobs": "jobs", "-j": "jobs"}
_FLAGS = {"--json"}

_started: tuple[tuple[int, str | None], ProcessPoolExecutor] | None = None


def pool(processes: int, engine: str | None) -> ProcessPoolExecutor:
    """``processes`` processes, each importing ``engine`` as it starts."""
    import multiprocessing

    # spawn: the progress bar runs a thread, and forking a threaded process is unsafe
    return ProcessPoolExecutor(
        processes, mp_context=multiprocessing.get_context("spawn"), initializer=warm, initargs=(engine,)
    )


def launch(executor: ProcessPoolExecutor, processes: int) -> None:
    """Start every process of ``executor`` now (each submit starts one while none is idle)."""
    for _ in range(processes):
        executor.submit(int)


def start(args: Sequence[str]) -> None:
    """Start the pool ``render`` will want for ``args`` (the arguments after ``render``), when they say."""
    global _started
    wanted = _wanted(args)
    if wanted is not None:
        executor = pool(*wanted)
        launch(executor, wanted[0])
        _started = wanted, executor


def take(processes: int, engine: str | None) -> ProcessPoolExecutor | None:
    """The pool :func:`start` started, if it is the one wanted; else None, and that one is shut down."""
    global _started
    started, _started = _started, None
    if started is None:
        return None
    wanted, executor = started
    if wanted == (processes, engine):
        return executor
    executor.shutdown(wait=False, cancel_futures=True)
    return None


def discard() -> None:
    """Shut down the pool :func:`start` started, if ``render`` never took it (typer refused the arguments)."""
    take(0, None)


def _wanted(args: Sequence[str]) -> tuple[int, str | None] | None:
    """How many processes and which engine ``render args`` asks for; None when that is not plain."""
    values: dict[str, str] = {}
    inputs: list[str] = []
    rest = iter(args)
    for arg in rest:
        if arg == "--":
            inputs.extend(rest)
        elif arg in _FLAGS:
            pass
        elif arg in _VALUED:
            value = next(rest, None)
            if value is None:
                return None
            values[_VALUED[arg]] = value
        elif arg.startswith("--") and arg.partition("=")[0] in _VALUED:
            name, _, value = arg.partition("=")
            values[_VALUED[name]] = value
        elif arg.startswith("-"):
            return None  # --help, a short option with its value attached, a mistake: typer's to tell
        else:
            inputs.append(arg)
    if "out" not in values or not inputs or not all(Path(i).exists() for i in inputs):
        return None
    try:
        jobs = int(values["jobs"]) if "jobs" in values else None
    except ValueError:
        return None
    if jobs is not None and jobs < 1:
        return None
    count = sum(1 for _ in input_files(Path(i) for i in inputs))
    processes = min(jobs or os.cpu_count() or 1, count)
    if processes < 1:
        return None
    return processes, values.get("engine", os.environ.get("IMAGEPIPE_ENGINE") or None)
