"""GET /images?similar_to=: near-duplicates through the band index, with the real worker writing it."""

from __future__ import annotations

import io
from typing import Any

import httpx

from conftest import ApiClient, MakeKey, RunWorker
from photos import scene

RECIPE = '{"variants": [{"name": "small", "width": 64, "format": "png"}]}'


def encoded(seed: int, size: tuple[int, int], fmt: str, **params: Any) -> bytes:
    buffer = io.BytesIO()
    scene(seed, 1600, 1200).resize(size).save(buffer, fmt, **params)
    return buffer.getvalue()


async def upload(api: httpx.AsyncClient, data: bytes) -> str:
    resp = await api.post("/images", files={"file": ("photo", data, "image/jpeg")}, data={"recipe": RECIPE})
    assert resp.status_code == 202, resp.text
    return str(resp.json()["image_id"])


async def similar(api: httpx.AsyncClient, image_id: str, **params: Any) -> list[tuple[str, int]]:
    resp = await api.get("/images", params={"similar_to": image_id, **params})
    assert resp.status_code == 200, resp.text
    return [(item["image_id"], item["distance"]) for item in resp.json()["items"]]


async def test_a_copy_is_found_and_a_stranger_is_not(api: httpx.AsyncClient, run_worker: RunWorker) -> None:
    original = await upload(api, encoded(41, (1600, 1200), "PNG"))
    copy = await upload(api, encoded(41, (640, 480), "JPEG", quality=55))  # re-encoded and resized
    close = await upload(api, encoded(41, (1200, 900), "WEBP", quality=70))
    stranger = await upload(api, encoded(42, (1600, 1200), "PNG"))
    await run_worker()

    found = await similar(api, original)
    assert {image_id for image_id, _ in found} >= {copy, close}
    assert stranger not in {image_id for image_id, _ in found}
    assert original not in {image_id for image_id, _ in found}  # the query itself is not its own duplicate
    assert [d for _, d in found] == sorted(d for _, d in found)  # nearest first
    assert all(d <= 6 for image_id, d in found if image_id in (copy, close))

    from_copy = await similar(api, copy)
    assert original in {image_id for image_id, _ in from_copy}
    assert await similar(api, stranger) == []

    # max_distance narrows the answer; past the bands' guarantee it is refused
    assert all(d <= 1 for _, d in await similar(api, original, max_distance=1))
    too_far = await api.get("/images", params={"similar_to": original, "max_distance": 9})
    assert too_far.status_code == 422

    # a deleted image leaves the index with its record
    assert (await api.delete(f"/images/{copy}")).status_code == 204
    assert copy not in {image_id for image_id, _ in await similar(api, original)}


async def test_similar_to_an_unknown_or_unprocessed_image(api: httpx.AsyncClient) -> None:
    missing = await api.get("/images", params={"similar_to": "0" * 32})
    assert missing.status_code == 404
    queued = await upload(api, encoded(43, (320, 240), "PNG"))
    resp = await api.get("/images", params={"similar_to": queued})
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "not_ready"


async def test_another_tenants_copy_is_never_listed(
    api: httpx.AsyncClient, api_client: ApiClient, make_key: MakeKey, run_worker: RunWorker
) -> None:
    theirs = api_client(make_key("acme").key)
    ours = await upload(api, encoded(44, (1600, 1200), "PNG"))
    our_copy = await upload(api, encoded(44, (800, 600), "JPEG", quality=70))
    their_copy = await upload(theirs, encoded(44, (800, 600), "JPEG", quality=70))  # the very same bytes
    await run_worker()

    assert {image_id for image_id, _ in await similar(api, ours)} == {our_copy}
    assert await similar(theirs, their_copy) == []  # acme has no other copy
    # another tenant's image cannot even be asked about: it is not there for them
    assert (await theirs.get("/images", params={"similar_to": ours})).status_code == 404


async def test_similar_to_pages_through_every_match(api: httpx.AsyncClient, run_worker: RunWorker) -> None:
    original = await upload(api, encoded(43, (1600, 1200), "PNG"))
    copies = [await upload(api, encoded(43, (400 + 40 * i, 300 + 30 * i), "JPEG", quality=60 + i)) for i in range(5)]
    await run_worker()
    everything = await similar(api, original, limit=100)
    assert {image_id for image_id, _ in everything} >= set(copies)
    paged: list[tuple[str, int]] = []
    params: dict[str, Any] = {"similar_to": original, "limit": 2}
    for _ in range(len(everything)):
        page = (await api.get("/images", params=params)).json()
        paged += [(item["image_id"], item["distance"]) for item in page["items"]]
        if page["next"] is None:
            break
        params["next"] = page["next"]
    assert paged == everything  # no match lost between pages, none twice, nearest first throughout
    assert (await api.get("/images", params={"similar_to": original, "status": "failed"})).json()["items"] == []
    listing_cursor = (await api.get("/images", params={"limit": 1})).json()["next"]
    assert listing_cursor is not None
    refused = await api.get("/images", params={"similar_to": original, "next": listing_cursor})
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "invalid_request"), refused.text
