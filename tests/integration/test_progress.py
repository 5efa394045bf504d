"""Progress per job: a poller sees the stages of a large image while the real worker processes it, and none
once the record is final."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import httpx
from PIL import Image

from conftest import RunWorker
from imagepipe import jobs
from imagepipe.progress import progress_key
from imagepipe.settings import get_settings

STAGES = {"downloading", "decoding", "rendering", "storing"}


def large_jpeg() -> bytes:
    """24 MP of noise: seconds of decoding and encoding, so a poller has time to look."""
    im = Image.effect_noise((6000, 4000), 90).convert("RGB")
    out = io.BytesIO()
    im.save(out, "JPEG", quality=92)
    return out.getvalue()


RECIPE = {
    "variants": [
        # heights given (3:2, as the source): the recipe's output bound counts a side left out as 4096 px
        {"name": f"w{w}", "width": w, "height": w * 2 // 3, "format": "png" if w == 3000 else "jpeg", "quality": 95}
        for w in (3000, 2600, 2200, 1800, 1400, 1000, 600, 300)
    ]
}


async def test_a_poller_sees_progress_while_processing_and_none_after(
    api: httpx.AsyncClient, run_worker: RunWorker
) -> None:
    resp = await api.post(
        "/images", files={"file": ("big.jpg", large_jpeg(), "image/jpeg")}, data={"recipe": json.dumps(RECIPE)}
    )
    assert resp.status_code == 202, resp.text
    location = resp.headers["Location"]

    async def work() -> None:
        await run_worker()

    worker = asyncio.create_task(work())
    seen: list[dict[str, Any]] = []
    listed: list[dict[str, Any]] = []  # the listing shows it too: a page of uploads with a bar each
    image_id = resp.json()["image_id"]
    while not worker.done():
        record = (await api.get(location)).json()
        if record["status"] == "processing" and record["progress"] is not None:
            seen.append(record["progress"])
        row = next(
            r for r in (await api.get("/images", params={"limit": 5})).json()["items"] if r["image_id"] == image_id
        )
        if row["status"] == "processing" and row["progress"] is not None:
            listed.append(row["progress"])
        await asyncio.sleep(0.01)
    await worker

    assert seen, "no progress was visible while the image was processing"
    assert listed, "no progress was visible in the listing while the image was processing"
    for progress in seen + listed:
        assert progress["stage"] in STAGES
        assert progress["total"] == len(RECIPE["variants"])
        assert 0 <= progress["done"] <= progress["total"]
    final = (await api.get(location)).json()
    assert final["status"] == "succeeded", final
    assert final["progress"] is None
    pool = await jobs.connect(get_settings())
    try:
        assert not await pool.exists(progress_key(final["image_id"]))  # deleted, not left to lapse
    finally:
        await pool.aclose()
