"""The API's client commands: ``submit``, ``status``, ``ls``, ``get``, ``rm``, ``reprocess``, ``queue`` (``keys`` is in
keys.py).

Exit codes: 0 when everything asked for succeeded, 1 when anything failed, 2 on usage or authentication errors.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import json
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, NoReturn, ParamSpec, TypeVar

import httpx
import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from imagepipe.models import Status
from imagepipe_cli.batch import Batch, Plan
from imagepipe_cli.client import DEFAULT_URL, ApiError, AuthError, Connection, ImagepipeApi, Record, Unreachable
from imagepipe_cli.display import JsonLines, Lines, ProgressBar, stage
from imagepipe_cli.files import some_of
from imagepipe_cli.inputs import collect
from imagepipe_cli.interrupts import Interrupts
from imagepipe_cli.tally import OUTPUT_CLOSED, STOPPED_EXIT_CODES, Tally, stdout_closed

T = TypeVar("T")
P = ParamSpec("P")


def _api_url(value: str) -> str:
    """``--url``: an http(s) URL with a host, or a usage error."""
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise typer.BadParameter(f"{value!r} is not a URL: {exc}") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise typer.BadParameter(f"{value!r} is not an http:// or https:// URL with a host")
    return value


UrlOption = Annotated[str, typer.Option("--url", envvar="IMAGEPIPE_URL", help="The API's base URL.", callback=_api_url)]
KeyOption = Annotated[
    str | None,
    typer.Option("--api-key", envvar="IMAGEPIPE_API_KEY", help="Sent as `Authorization: Bearer`.", show_default=False),
]
RecipeOption = Annotated[
    str | None, typer.Option("--recipe", help="A recipe as JSON, or @FILE to read it from a file.", show_default=False)
]
JsonOption = Annotated[bool, typer.Option("--json", help="JSON, one object per line.")]


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """A closed stdout ends the command as a ``print`` finding it closed does (:func:`stops_quietly`), not
        with rich's exit 1."""
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, "the output is closed")


def console(stderr: bool = False) -> Console:
    """rich's console; off a terminal it writes plain text (no colour, no control codes) and wraps nothing."""
    made = _Console(stderr=stderr)
    return made if made.is_terminal else _Console(stderr=stderr, width=10_000, no_color=True)


def fail(message: str, code: int) -> typer.Exit:
    console(stderr=True).print(f"error: {message}", markup=False, highlight=False)
    return typer.Exit(code)


def table_row(table: Table, *cells: object) -> None:
    """A row of text as it is: the API's messages and names are not rich markup (``imagepipe[heic]``)."""
    table.add_row(*(escape(str(cell)) for cell in cells))


def stops_quietly(command: Callable[P, None]) -> Callable[P, None]:
    """``imagepipe ls | head -1``: once nobody reads stdout, the command ends quietly with 141, as ``render``
    does, not with click's silent 1."""

    @functools.wraps(command)
    def quietly(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            try:
                command(*args, **kwargs)
            finally:
                sys.stdout.flush()  # a closed pipe found here, not in the interpreter's teardown (exit 120)
        except BrokenPipeError:
            stdout_closed()
            raise typer.Exit(STOPPED_EXIT_CODES[OUTPUT_CLOSED]) from None

    return quietly


def parse_recipe(value: str | None) -> dict[str, Any] | None:
    """``--recipe``: JSON text, or ``@FILE``. The API validates what the recipe says."""
    if value is None:
        return None
    text = value
    if value.startswith("@"):
        try:
            text = Path(value[1:]).read_text()
        except OSError as exc:
            raise typer.BadParameter(f"cannot read {value[1:]}: {exc.strerror}", param_hint="--recipe") from exc
    try:
        recipe = json.loads(text)
    except ValueError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="--recipe") from exc
    if not isinstance(recipe, dict):
        raise typer.BadParameter("a recipe is a JSON object", param_hint="--recipe")
    return recipe


def _first(group: BaseExceptionGroup[BaseException], kind: type[BaseException]) -> BaseException | None:
    matched: BaseException | None = group.subgroup(kind)
    while isinstance(matched, BaseExceptionGroup):
        matched = matched.exceptions[0]
    return matched


def call(url: str, api_key: str | None, work: Callable[[ImagepipeApi], Awaitable[T]]) -> T:
    """Run ``work`` against the API; authentication errors exit 2, an unreachable API or a refusal exit 1."""

    async def main() -> T:
        async with ImagepipeApi(Connection(url.rstrip("/"), api_key)) as api:
            return await work(api)

    try:
        return run(main())
    except BaseExceptionGroup as group:  # from the batch's task group: the first one says it
        found = _first(group, AuthError) or _first(group, Unreachable) or _first(group, ApiError)
        if found is None:
            raise
        _exit(found)
    except (ApiError, Unreachable) as exc:
        _exit(exc)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def _exit(exc: BaseException) -> NoReturn:
    if isinstance(exc, AuthError):
        hint = "set IMAGEPIPE_API_KEY or pass --api-key (`make run` prints a local key)"
        raise fail(f"the API refused the key ({exc.status} {exc.code}: {exc.message}); {hint}", 2)
    raise fail(str(exc), 1)


def submit(
    paths: Annotated[list[str], typer.Argument(help="Files, folders (recursively) and globs.", show_default=False)],
    recipe: RecipeOption = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Uploads and requests at a time.")] = 4,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until each image is finished.")] = False,
    out: Annotated[
        Path | None,
        typer.Option(help="Download the variants to DIR/<input stem>/<variant>.<ext> (implies --wait).", metavar="DIR"),
    ] = None,
    as_json: JsonOption = False,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds to wait for one image.")] = 900.0,
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = None,
) -> None:
    """Upload images (recognised by their bytes, not their names); big files go straight to S3. Ctrl-C or
    SIGTERM stops it: nothing new is uploaded, and every input the API accepted is reported with its id."""
    parsed = parse_recipe(recipe)
    found = collect(paths)
    if found.missing:
        raise fail(f"no such file, folder or match: {', '.join(found.missing)}", 2)
    if found.skipped:
        names = some_of(found.skipped)
        console(stderr=True).print(f"skipped {len(found.skipped)} non-image file(s): {names}", markup=False)
    if not found.inputs:
        raise fail("no images to submit", 2)
    plan = Plan(recipe=parsed, wait=wait or out is not None, out=out, concurrency=concurrency, timeout=timeout)
    screen = console()
    total = sum(item.path.stat().st_size for item in found.inputs if item.is_image)
    reporter = (
        JsonLines()
        if as_json
        else ProgressBar(screen, total, len(found.inputs), plan.wait)
        if screen.is_terminal
        else Lines()
    )
    tally = Tally(len(found.inputs), undone="not submitted")
    interrupts = Interrupts()
    with interrupts.installed():
        try:
            with interrupts.held(), reporter:  # the batch polls for a Ctrl-C; none is raised inside the event loop
                call(url, api_key, lambda api: Batch(api, plan, reporter, tally, interrupts).run(found.inputs))
        except KeyboardInterrupt:
            tally.stopped = tally.stopped or interrupts.why()
        if tally.stopped:  # on stderr: stdout keeps one line (or JSON object) per input
            print(tally.summary(out), file=sys.stderr, flush=True)
    raise typer.Exit(tally.exit_code())


def status(
    image_ids: Annotated[list[str], typer.Argument(metavar="ID...", show_default=False)],
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = None,
) -> None:
    """Each image's status, progress, variants and error."""

    async def fetch(api: ImagepipeApi) -> list[Record]:
        return [await _record_or_error(api, image_id) for image_id in image_ids]

    records = call(url, api_key, fetch)
    _print_records(records, as_json)
    raise typer.Exit(1 if any("status" not in r or r["status"] == "failed" for r in records) else 0)


async def _record_or_error(api: ImagepipeApi, image_id: str) -> Record:
    try:
        return await api.image(image_id)
    except AuthError:
        raise
    except ApiError as exc:
        return {"image_id": image_id, "error": {"code": exc.code, "message": exc.message}}


def show_rows(rows: list[Record], as_json: bool, table: Callable[[list[Record]], Table]) -> None:
    """``--json``: one object per line; else the rows as a rich table."""
    if as_json:
        for row in rows:
            print(json.dumps(row))
    else:
        console().print(table(rows))


def _print_records(records: list[Record], as_json: bool) -> None:
    show_rows(records, as_json, _records_table)


def _records_table(records: list[Record]) -> Table:
    table = Table("image", "status", "source", "variants", "error", "created")
    for r in records:
        error = r.get("error") or {}
        variants = ", ".join(f"{v['name']} {v['width']}x{v['height']}" for v in r.get("variants", []))
        source = str(r.get("source", {}).get("key", "")).rsplit("/", 1)[-1]
        shown = stage(r) if "status" in r else "-"
        problem = f"{error['code']}: {error['message']}" if error else ""
        table_row(table, r["image_id"], shown, source, variants, problem, str(r.get("created_at", ""))[:19])
    return table


def ls(
    status: Annotated[
        Status | None, typer.Option("--status", help="Only images in this state.", show_default=False)
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many, newest first.")] = 20,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = None,
) -> None:
    """Images, newest first."""
    _print_records(call(url, api_key, lambda api: api.images(status.value if status else None, limit)), as_json)


def get(
    image_id: Annotated[str, typer.Argument(metavar="ID", show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the variant.", show_default=False)],
    variant: Annotated[
        str | None, typer.Option("--variant", help="Its name; the largest if absent.", show_default=False)
    ] = None,
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = None,
) -> None:
    """Download one variant of an image."""

    async def download(api: ImagepipeApi) -> int:
        name = variant
        if name is None:
            variants = (await api.image(image_id)).get("variants", [])
            if not variants:
                raise ApiError(409, "not_ready", f"image {image_id} has no variants (yet)")
            name = max(variants, key=lambda v: int(v["width"]) * int(v["height"]))["name"]
        data = await api.fetch(await api.variant_url(image_id, str(name)))
        await asyncio.to_thread(output.write_bytes, data)
        return len(data)

    written = call(url, api_key, download)
    console(stderr=True).print(f"wrote {output} ({written} bytes)", markup=False, highlight=False)


def rm(
    image_ids: Annotated[list[str], typer.Argument(metavar="ID...", show_default=False)],
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = None,
) -> None:
    """Delete images: their variants, originals and records. One line per id: ``deleted ID`` on stdout, or why
    not on stderr."""

    async def delete(api: ImagepipeApi) -> bool:
        deleted = True
        for image_id in image_ids:
            try:
                await api.delete(image_id)
            except AuthError:
                raise
            except ApiError as exc:
                deleted = False
                console(stderr=True).print(f"not deleted {image_id}: {exc}", markup=False, highlight=False)
                continue
            print(f"deleted {image_id}", flush=True)
        return deleted

    raise typer.Exit(0 if call(url, api_key, delete) else 1)


def reprocess(
    image_id: Annotated[str, typer.Argument(metavar="ID", show_default=False)],
    recipe: RecipeOption = None,
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = None,
) -> None:
    """Process a finished image again, with a new recipe if given."""
    parsed = parse_recipe(recipe)
    call(url, api_key, lambda api: api.reprocess(image_id, parsed))
    print(f"queued {image_id}")


def _queue_table(stats: dict[str, int]) -> Table:
    table = Table("depth", "in progress", "dead letters", "workers")
    table_row(table, *(stats.get(k, "?") for k in ("depth", "in_progress", "dead_letters", "workers")))
    return table


def queue(
    watch: Annotated[bool, typer.Option("--watch", help="Refresh until Ctrl-C.")] = False,
    interval: Annotated[float, typer.Option(min=0.5, help="Seconds between refreshes with --watch.")] = 2.0,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = None,
) -> None:
    """Queue depth, jobs in progress, dead letters and live workers."""

    def show(stats: dict[str, int]) -> None:
        print(json.dumps(stats), flush=True) if as_json else console().print(_queue_table(stats))

    if not watch:
        show(call(url, api_key, lambda api: api.queue()))
        return
    screen = console()
    try:
        if screen.is_terminal and not as_json:
            with Live(_queue_table(call(url, api_key, lambda api: api.queue())), console=screen) as live:
                while True:
                    time.sleep(interval)
                    live.update(_queue_table(call(url, api_key, lambda api: api.queue())))
        while True:
            show(call(url, api_key, lambda api: api.queue()))
            time.sleep(interval)
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


def register(app: typer.Typer) -> None:
    """Add the API client's commands to the ``imagepipe`` app."""
    for command in (submit, status, ls, get, rm, reprocess, queue):
        app.command()(stops_quietly(command))
