"""Tenants over real Redis, moto and the real worker: a tenant sees, lists, downloads, reprocesses and deletes
only its own images (another's answers 404, like a missing one), its S3 objects live under its name, and an
object dropped into the upload bucket belongs to the tenant its path names when that tenant has keys."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from conftest import ApiClient, Handler, MakeKey, RunWorker, corpus
from factories import put, s3_notification, uploaded, withdraw
from imagepipe import aws, jobs
from imagepipe.apikeys import Scope
from imagepipe.keys import image_id_for_object, new_image_id
from imagepipe.models import DEFAULT_RECIPE, ErrorInfo, SourceObject
from imagepipe.records import ImageRecords
from imagepipe.settings import get_settings
from sam import LambdaRuntime

READ_WRITE = [Scope.IMAGES_READ, Scope.IMAGES_WRITE]


def tenant_name() -> str:
    """A tenant of this test alone (the keys table is the session's)."""
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def two_tenants(api_client: ApiClient, make_key: MakeKey) -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
    return api_client(make_key(tenant_name(), READ_WRITE).key), api_client(make_key(tenant_name(), READ_WRITE).key)


async def listed(client: httpx.AsyncClient, **params: Any) -> list[str]:
    """Every image id the client's listing shows, following the cursor."""
    ids: list[str] = []
    cursor: str | None = None
    while True:
        query = {**params, **({"next": cursor} if cursor else {})}
        resp = await client.get("/images", params=query)
        assert resp.status_code == 200, resp.text
        ids += [item["image_id"] for item in resp.json()["items"]]
        cursor = resp.json()["next"]
        if cursor is None:
            return ids


async def test_another_tenants_image_answers_404_on_every_route(
    two_tenants: tuple[httpx.AsyncClient, httpx.AsyncClient], run_worker: RunWorker
) -> None:
    owner, other = two_tenants
    image_id = await uploaded(owner, "images", "baseline", "hopper.jpg")
    await run_worker()
    mine = (await owner.get(f"/images/{image_id}")).json()
    assert mine["status"] == "succeeded"
    source_key = mine["source"]["key"]
    missing = new_image_id()

    for method, path in [
        ("GET", "/images/{}"),
        ("GET", "/images/{}/variants/thumb"),
        ("POST", "/images/{}/reprocess"),
        ("DELETE", "/images/{}"),
    ]:
        theirs = await other.request(method, path.format(image_id))
        nobodys = await other.request(method, path.format(missing))
        # indistinguishable from an id that does not exist: ids cannot be probed
        assert theirs.status_code == nobodys.status_code == 404, (method, path, theirs.text)
        assert theirs.json()["error"]["code"] == nobodys.json()["error"]["code"] == "not_found"
    assert (await other.get("/images", params={"source_key": source_key})).json()["items"] == []
    assert image_id not in await listed(other)
    assert image_id not in await listed(other, status="succeeded")

    # nothing the other tenant tried touched it
    again = (await owner.get(f"/images/{image_id}")).json()
    assert again["status"] == "succeeded" and again["updated_at"] == mine["updated_at"]
    assert (await owner.get(f"/images/{image_id}/variants/thumb")).status_code == 307
    assert [i["image_id"] for i in (await owner.get("/images", params={"source_key": source_key})).json()["items"]] == [
        image_id
    ]
    assert image_id in await listed(owner)
    assert (await owner.delete(f"/images/{image_id}")).status_code == 204


async def test_a_tenants_s3_objects_carry_its_name(
    api_client: ApiClient, make_key: MakeKey, run_worker: RunWorker, s3: Any
) -> None:
    tenant = tenant_name()
    client = api_client(make_key(tenant, READ_WRITE).key)
    image_id = await uploaded(client, "images", "baseline", "hopper.jpg")
    await run_worker()
    record = (await client.get(f"/images/{image_id}")).json()
    assert record["tenant"] == tenant
    assert record["source"]["key"] == f"uploads/{tenant}/{image_id}/hopper.jpg"
    assert {v["key"] for v in record["variants"]} == {
        f"images/{tenant}/{image_id}/thumb.webp",
        f"images/{tenant}/{image_id}/medium.jpg",
        f"images/{tenant}/{image_id}/large.jpg",
    }
    settings = get_settings()
    stored = s3.list_objects_v2(Bucket=settings.output_bucket, Prefix=f"images/{tenant}/{image_id}/")
    assert len(stored.get("Contents", [])) == 3

    form = await client.post("/images/uploads", json={"filename": "big.jpg", "content_type": "image/jpeg", "size": 10})
    assert form.status_code == 201, form.text
    assert form.json()["key"] == f"uploads/{tenant}/{form.json()['image_id']}/big.jpg"


async def test_a_job_naming_another_tenant_than_its_records_starts_nothing(
    api_client: ApiClient, make_key: MakeKey, run_worker: RunWorker, records: ImageRecords, s3: Any
) -> None:
    """A job names its record's tenant, under whose prefix the worker stores the variants once the record's
    start has checked it: a job naming another (planted in Redis, or from a confused producer) writes nothing."""
    tenant, intruder = tenant_name(), tenant_name()
    image_id = await uploaded(api_client(make_key(tenant, READ_WRITE).key), "images", "baseline", "hopper.jpg")
    record = records.get(image_id)
    assert record is not None
    settings = get_settings()
    jid = jobs.job_id(image_id, record.source.version)
    pool = await jobs.connect(settings)
    try:
        await withdraw(pool, jid)  # the upload's own job makes way for the planted one
        assert await jobs.enqueue_record(pool, record.model_copy(update={"tenant": intruder}))
        assert (await run_worker()).jobs_complete == 1
        untouched = records.get(image_id)
        assert untouched is not None and (untouched.status.value, untouched.attempts) == ("queued", 0)
        for owner in (intruder, tenant):
            assert "Contents" not in s3.list_objects_v2(Bucket=settings.output_bucket, Prefix=f"images/{owner}/")

        assert await jobs.enqueue_record(pool, record)  # the record's own job: its tenant
        assert (await run_worker()).jobs_complete == 1
    finally:
        await pool.aclose()
    done = records.get(image_id)
    assert done is not None and done.status.value == "succeeded"
    assert {v.key for v in done.variants} == {
        f"images/{tenant}/{image_id}/{n}" for n in ("thumb.webp", "medium.jpg", "large.jpg")
    }


async def test_listing_by_status_shows_the_tenants_own_page_by_page(
    api_client: ApiClient, make_key: MakeKey, records: ImageRecords
) -> None:
    tenant, neighbour = tenant_name(), tenant_name()
    made: dict[str, list[str]] = {tenant: [], neighbour: []}
    for n in range(10):
        owner = tenant if n % 2 else neighbour
        image_id = new_image_id()
        source = SourceObject(bucket="b", key=f"uploads/{owner}/{image_id}/x.jpg", version="v1")
        assert records.create(image_id, source, DEFAULT_RECIPE, owner) is not None
        made[owner].append(image_id)
    failed = made[tenant][1::2]  # 2 of the tenant's 5, among 8 queued records of two tenants
    for image_id in failed:
        assert records.fail(image_id, "v1", ErrorInfo(code="invalid_image", message="not an image"))
    client = api_client(make_key(tenant, READ_WRITE).key)

    assert await listed(client, limit=2) == made[tenant][::-1]
    assert await listed(client, status="failed", limit=1) == failed[::-1]
    assert await listed(client, status="queued", limit=2) == [i for i in made[tenant][::-1] if i not in failed]
    assert await listed(api_client(make_key(neighbour, READ_WRITE).key), status="failed") == []


async def test_a_record_from_before_tenants_is_the_default_tenants(
    api_client: ApiClient, make_key: MakeKey, records: ImageRecords
) -> None:
    image_id = new_image_id()
    item: dict[str, Any] = {
        "image_id": {"S": image_id},
        "status": {"S": "queued"},
        "source": {"M": {"bucket": {"S": "b"}, "key": {"S": f"uploads/{image_id}/old.jpg"}, "version": {"S": "v"}}},
        "recipe": {"M": {"variants": {"L": [{"M": {"name": {"S": "s"}, "width": {"N": "10"}}}]}}},
        "created_at": {"S": "2026-01-01T00:00:00+00:00"},
        "updated_at": {"S": "2026-01-01T00:00:00+00:00"},
        "listing": {"S": "image"},
    }
    aws.dynamodb_client().put_item(TableName=get_settings().table_name, Item=item)
    seen = await api_client(make_key("local", READ_WRITE).key).get(f"/images/{image_id}")
    assert seen.status_code == 200 and seen.json()["tenant"] == "local"
    assert (await api_client(make_key(tenant_name(), READ_WRITE).key).get(f"/images/{image_id}")).status_code == 404


async def dropped(trigger: Handler, runtime: LambdaRuntime, key: str) -> str:
    """Put an object into the upload bucket as `aws s3 cp` would, and deliver its S3 event; its image id."""
    event = s3_notification(put(key, corpus("images", "baseline", "hopper.jpg").read_bytes()))
    results = (await runtime.invoke(trigger, event))["results"]
    assert [r["outcome"] for r in results] == ["enqueued"], results
    return image_id_for_object(get_settings().upload_bucket, key)


async def test_a_dropped_object_belongs_to_the_tenant_its_path_names_only_when_it_has_keys(
    api_client: ApiClient, make_key: MakeKey, trigger: Handler, runtime: LambdaRuntime, run_worker: RunWorker
) -> None:
    acme = tenant_name()
    local = api_client(make_key("local", READ_WRITE).key)
    keyless = await dropped(trigger, runtime, f"uploads/{acme}/before-{uuid.uuid4().hex[:6]}.jpg")
    acme_client = api_client(make_key(acme, READ_WRITE).key)
    owned = await dropped(trigger, runtime, f"uploads/{acme}/after-{uuid.uuid4().hex[:6]}.jpg")
    await run_worker()

    # before acme had keys, its name was just a folder: the default tenant's
    assert (await local.get(f"/images/{keyless}")).json()["status"] == "succeeded"
    assert (await acme_client.get(f"/images/{keyless}")).status_code == 404
    record = (await acme_client.get(f"/images/{owned}")).json()
    assert record["status"] == "succeeded" and record["tenant"] == acme
    assert {v["key"].rsplit("/", 1)[0] for v in record["variants"]} == {f"images/{acme}/{owned}"}
    assert (await local.get(f"/images/{owned}")).status_code == 404
    assert owned in await listed(acme_client) and owned not in await listed(local)


async def test_an_object_copied_to_the_upload_prefix_shows_for_the_local_key(
    api_client: ApiClient, make_key: MakeKey, trigger: Handler, runtime: LambdaRuntime, run_worker: RunWorker
) -> None:
    key = f"uploads/photo-{uuid.uuid4().hex[:6]}.jpg"  # aws s3 cp photo.jpg s3://BUCKET/uploads/photo.jpg
    image_id = await dropped(trigger, runtime, key)
    await run_worker()
    local = api_client(make_key("local").key)  # the kind of key `make run` prints
    found = (await local.get("/images", params={"source_key": key})).json()["items"]
    assert [(i["image_id"], i["status"], i["tenant"]) for i in found] == [(image_id, "succeeded", "local")]


async def test_an_api_key_shaped_object_cannot_reach_another_tenants_image(
    two_tenants: tuple[httpx.AsyncClient, httpx.AsyncClient],
    trigger: Handler,
    runtime: LambdaRuntime,
    run_worker: RunWorker,
) -> None:
    owner, _ = two_tenants
    image_id = await uploaded(owner, "images", "baseline", "hopper.jpg")
    await run_worker()
    before = (await owner.get(f"/images/{image_id}")).json()
    intruder = tenant_name()
    event = s3_notification(
        put(f"uploads/{intruder}/{image_id}/x.png", corpus("images", "baseline", "hopper.png").read_bytes())
    )
    results = (await runtime.invoke(trigger, event))["results"]
    assert [r["outcome"] for r in results] == ["skipped"], results
    after = (await owner.get(f"/images/{image_id}")).json()
    assert after["source"] == before["source"] and after["status"] == "succeeded"
