"""``submit``'s work: upload each input (direct or presigned), wait for it, download its variants.
One :class:`Row` per input submitted; what the user sees while it runs is the :class:`Reporter`'s business.

After Ctrl-C or SIGTERM (recorded by :class:`~imagepipe_cli.interrupts.Interrupts`, which raises nothing while
the batch runs), or once stdout is closed, no upload starts: those under way finish, so no image is accepted
without its id being reported, and waiting stops, each accepted image reported with the status last seen."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from imagepipe.direct_upload import DIRECT_UPLOAD_LIMIT
from imagepipe_cli.client import ApiError, AuthError, ImagepipeApi, Record
from imagepipe_cli.inputs import Input
from imagepipe_cli.interrupts import Interrupts
from imagepipe_cli.tally import Tally

POLL_SECONDS = 0.5
FINISHED = ("succeeded", "failed")
_EXTENSIONS = {"jpeg": "jpg"}


@dataclass
class Row:
    """The outcome of one input, as ``--json`` prints it."""

    input: str
    image_id: str | None = None
    status: str = "failed"
    variants: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, str] | None = None

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def as_json(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "image_id": self.image_id,
            "status": self.status,
            "variants": self.variants,
            "error": self.error,
        }


class Reporter(Protocol):
    """What the batch tells the person watching it."""

    def sent(self, count: int) -> None:
        """``count`` more bytes are on their way up."""

    def uploaded(self) -> None:
        """One more input is past its upload (accepted or refused)."""

    def working(self, item: Input, record: Record) -> None:
        """A record seen while waiting for it (its ``progress``, if any)."""

    def done(self, row: Row) -> None:
        """An input is finished with."""


@dataclass(frozen=True)
class Plan:
    recipe: dict[str, Any] | None = None
    wait: bool = False
    out: Path | None = None
    concurrency: int = 4
    timeout: float = 900.0


def destinations(inputs: Sequence[Input], out: Path) -> dict[Path, Path]:
    """``out/<input stem>`` per input; a stem seen before gets ``-2``, ``-3``... in input order."""
    taken: set[str] = set()
    found: dict[Path, Path] = {}
    for item in inputs:
        name, n = item.path.stem, 1
        while name in taken:
            n += 1
            name = f"{item.path.stem}-{n}"
        taken.add(name)
        found[item.path] = out / name
    return found


def _refused(item: Input, code: str, message: str, image_id: str | None = None) -> Row:
    return Row(input=str(item.path), image_id=image_id, error={"code": code, "message": message})


def _variants(record: Record) -> list[dict[str, Any]]:
    keep = ("name", "width", "height", "format", "bytes")
    return [{k: v[k] for k in keep if k in v} for v in record.get("variants", [])]


class Batch:
    """Runs one ``submit``: at most ``plan.concurrency`` requests at a time."""

    def __init__(self, api: ImagepipeApi, plan: Plan, reporter: Reporter, tally: Tally, interrupts: Interrupts) -> None:
        self.api = api
        self.plan = plan
        self.reporter = reporter
        self.tally = tally
        self.interrupts = interrupts
        self._slots = asyncio.Semaphore(plan.concurrency)

    async def run(self, inputs: Sequence[Input]) -> list[Row]:
        """The rows of the inputs submitted, in input order, each counted into the tally as it is reported.
        :class:`AuthError` ends the whole batch."""
        where = destinations(inputs, self.plan.out) if self.plan.out else {}
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(self._one(item, where.get(item.path))) for item in inputs]
        return [row for task in tasks if (row := task.result()) is not None]

    def _stopping(self) -> bool:
        return self.tally.stopped is not None or self.interrupts.received is not None

    async def _one(self, item: Input, out: Path | None) -> Row | None:
        row = await self._upload(item)
        if row is None:
            return None
        self.reporter.uploaded()
        if row.image_id is not None and not row.failed and self.plan.wait:
            row = await self._finish(item, row.image_id, out)
        self.tally.count(row.status)
        self.tally.show(lambda: self.reporter.done(row))
        return row

    async def _upload(self, item: Input) -> Row | None:
        """The input's row once the API took it or refused it; None when the batch stopped before its turn."""
        if self._stopping():
            return None
        if not item.is_image:
            return _refused(item, "unsupported_media_type", "not an image: its bytes are none of the known formats")
        async with self._slots:
            if self._stopping():
                return None
            try:
                data = await asyncio.to_thread(item.path.read_bytes)
            except OSError as exc:
                return _refused(item, "unreadable", str(exc))
            try:
                if len(data) > DIRECT_UPLOAD_LIMIT:
                    image_id = await self.api.upload_via_s3(
                        item.path.name, data, item.content_type, self.plan.recipe, self.reporter.sent
                    )
                else:
                    image_id = await self.api.upload(item.path.name, data, self.plan.recipe, self.reporter.sent)
            except AuthError:
                raise
            except ApiError as exc:
                return _refused(item, exc.code, exc.message)
        return Row(input=str(item.path), image_id=image_id, status="queued")

    async def _finish(self, item: Input, image_id: str, out: Path | None) -> Row:
        record = await self._finished(item, image_id)
        row = Row(input=str(item.path), image_id=image_id, status=record["status"], variants=_variants(record))
        if record["status"] not in FINISHED:
            if self._stopping():
                return row  # as far as it got: the user has its id
            return _refused(item, "wait_timeout", f"still {record['status']} after {self.plan.timeout:.0f}s", image_id)
        if record["status"] == "failed":
            row.error = record.get("error") or {"code": "failed", "message": "the image failed"}
        elif out is not None:
            try:
                await self._download(record, out, row.variants)
            except (ApiError, OSError) as exc:
                code, message = (exc.code, exc.message) if isinstance(exc, ApiError) else ("unwritable", str(exc))
                return _refused(item, code, message, image_id)
        return row

    async def _finished(self, item: Input, image_id: str) -> Record:
        deadline = time.monotonic() + self.plan.timeout
        while True:
            async with self._slots:
                record = await self.api.image(image_id)
            if record["status"] in FINISHED or time.monotonic() > deadline or self._stopping():
                return record
            self.reporter.working(item, record)
            await asyncio.sleep(POLL_SECONDS)

    async def _download(self, record: Record, out: Path, variants: list[dict[str, Any]]) -> None:
        """Each variant to ``out/<name>.<ext>``; each row variant gains its ``file``."""
        await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
        urls = {v["name"]: v["url"] for v in record.get("variants", [])}
        for variant in variants:
            fmt = str(variant["format"])
            path = out / f"{variant['name']}.{_EXTENSIONS.get(fmt, fmt)}"
            async with self._slots:
                data = await self.api.fetch(urls[variant["name"]])
            await asyncio.to_thread(path.write_bytes, data)
            variant["file"] = str(path)
