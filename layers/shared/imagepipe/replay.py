"""Replay dead letters: put failed images back in the queue.

    python -m imagepipe.replay --code transient          # every image that ran out of retries
    python -m imagepipe.replay --image-id ID [ID ...]    # chosen images
    python -m imagepipe.replay --code invalid_image --dry-run

Dead letters are the records in status ``failed``: durable in DynamoDB with their error, source and
recipe, so they outlive a Redis that lost its data. (``make replay ARGS="--code transient"``.)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

from imagepipe import liveness
from imagepipe.announce import Outcome, announce
from imagepipe.models import ImageRecord, Status
from imagepipe.services import Services
from imagepipe.settings import get_settings


async def replay(
    services: Services,
    *,
    image_ids: Sequence[str] = (),
    code: str | None = None,
    limit: int = 100,
    dry_run: bool = False,
) -> list[ImageRecord]:
    """Re-queue failed images, chosen by id or by error code; returns those queued (or that would be)."""
    records = services.records
    if image_ids:
        found = [await asyncio.to_thread(records.get, i) for i in image_ids]
        candidates = [r for r in found if r is not None and r.status is Status.FAILED]
    else:
        candidates = await asyncio.to_thread(records.by_status, Status.FAILED, limit)
    chosen = [r for r in candidates if code is None or (r.error is not None and r.error.code == code)][:limit]
    if dry_run:
        return chosen
    queued = []
    for record in chosen:
        if not await asyncio.to_thread(records.requeue, record.image_id, record.source.version):
            continue  # it moved on meanwhile
        if (
            await announce(record.source, services, image_id=record.image_id, tenant=record.tenant)
        ).outcome is Outcome.ENQUEUED:
            queued.append(record)
    return queued


async def _main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m imagepipe.replay", description=__doc__.split("\n\n")[0])
    parser.add_argument("--image-id", nargs="+", default=[], help="replay these images")
    parser.add_argument("--code", help="replay failures with this error code (e.g. transient, worker_crashed)")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--dry-run", action="store_true", help="list what would be replayed (alone: every one)")
    parser.add_argument("--force", action="store_true", help="queue even when no worker is alive on that Redis")
    args = parser.parse_args(argv)
    if not args.image_id and not args.code and not args.dry_run:
        parser.error("choose dead letters with --image-id or --code (or list them with --dry-run)")
    settings = get_settings()
    services = Services.build(settings)
    try:
        if not args.dry_run and not args.force and not await _workers_alive(services):
            print(
                f"error: no worker is alive on {_shown(settings.redis_url)}: the jobs would wait there and the records "
                "stay queued. Point IMAGEPIPE_REDIS_URL at the workers' Redis (`make run` prints it; AWS_ENDPOINT_URL "
                "too, locally), or pass --force.",
                file=sys.stderr,
            )
            return 2
        done = await replay(
            services,
            image_ids=args.image_id,
            code=args.code,
            limit=args.limit,
            dry_run=args.dry_run,
        )
    finally:
        await services.close()
    verb = "would replay" if args.dry_run else "replayed"
    for record in done:
        error = record.error.code if record.error else "?"
        print(f"{verb} {record.image_id} ({error}) s3://{record.source.bucket}/{record.source.key}")
    print(f"{verb} {len(done)} image(s)")
    return 0


def _shown(url: str) -> str:
    """A Redis URL without its password."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


async def _workers_alive(services: Services) -> bool:
    return bool(await liveness.alive(await services.queue(), services.settings.heartbeat_ttl_seconds))


if __name__ == "__main__":
    sys.exit(asyncio.run(_main(sys.argv[1:])))
