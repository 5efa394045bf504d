"""Completion webhooks end to end: registered through the API, sent by the real arq worker to a real HTTP
receiver on 127.0.0.1, signed, retried, given up on into the dead letters, redelivered, and refused where an
address is private once deployed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conftest import ChangeSetting, Handler, RunWorker, corpus, load_event
from factories import aimed
from imagepipe.aws import dynamodb_client
from imagepipe.services import get_services
from imagepipe.settings import get_settings
from imagepipe.signing import verify
from imagepipe.webhook_cache import endpoints_changed
from imagepipe.webhooks import WebhookStore
from receiver import Receiver, receiver
from sam import LambdaRuntime


@pytest.fixture
def hook_receiver() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


@pytest.fixture
def quick_retries(setting: ChangeSetting) -> None:
    setting("webhook_retry_base_seconds", "0.01")


@pytest.fixture
def deployed(setting: ChangeSetting) -> None:
    """Settings as deployed: no local mode."""
    setting("local_mode", "false")


async def register(api: httpx.AsyncClient, url: str) -> dict[str, Any]:
    resp = await api.post("/webhooks", json={"url": url})
    assert resp.status_code == 201, resp.text
    return resp.json()  # type: ignore[no-any-return]


async def upload(api: httpx.AsyncClient, *parts: str) -> str:
    path = corpus(*parts)
    resp = await api.post("/images", files={"file": (path.name, path.read_bytes(), "application/octet-stream")})
    assert resp.status_code == 202, resp.text
    return str(resp.json()["image_id"])


async def webhooks(api: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    resp = await api.get("/webhooks")
    assert resp.status_code == 200, resp.text
    return {w["webhook_id"]: w for w in resp.json()["items"]}


async def unregister(api: httpx.AsyncClient, webhook_id: str) -> None:
    assert (await api.delete(f"/webhooks/{webhook_id}")).status_code == 204


async def test_an_ended_image_is_posted_signed_to_the_endpoint(
    api: httpx.AsyncClient, run_worker: RunWorker, hook_receiver: Receiver
) -> None:
    created = await register(api, hook_receiver.url())
    assert created["secret"].startswith("whsec_")
    listed = await webhooks(api)
    assert "secret" not in listed[created["webhook_id"]]
    good = await upload(api, "images", "baseline", "hopper.jpg")
    bad = await upload(api, "images", "corrupt", "truncated_jpeg.jpg")

    await run_worker()
    await unregister(api, created["webhook_id"])

    by_image = {json.loads(r.body)["image_id"]: r for r in hook_receiver.received}
    assert set(by_image) == {good, bad}
    for delivery in by_image.values():
        header = delivery.headers["Imagepipe-Signature"]
        assert verify(created["secret"], header, delivery.body, now=int(time.time()))
        assert not verify("whsec_another", header, delivery.body, now=int(time.time()))
        assert not verify(created["secret"], header, delivery.body + b" ", now=int(time.time()))
    succeeded = json.loads(by_image[good].body)
    assert succeeded["status"] == "succeeded"
    assert {v["name"] for v in succeeded["variants"]} == {"thumb", "medium", "large"}
    assert succeeded["error"] is None
    failed = json.loads(by_image[bad].body)
    assert (failed["status"], failed["error"]["code"]) == ("failed", "invalid_image")


async def test_a_receiver_answering_500_gets_the_same_delivery_again(
    api: httpx.AsyncClient, run_worker: RunWorker, hook_receiver: Receiver, quick_retries: None
) -> None:
    created = await register(api, hook_receiver.url())
    hook_receiver.statuses = [500]
    await upload(api, "images", "baseline", "hopper.png")

    await run_worker()

    first, second = hook_receiver.received
    assert first.body == second.body
    assert first.headers["Imagepipe-Delivery"] == second.headers["Imagepipe-Delivery"]
    assert verify(created["secret"], second.headers["Imagepipe-Signature"], second.body, now=int(time.time()))
    assert (await webhooks(api))[created["webhook_id"]]["dead_letters"] == 0
    await unregister(api, created["webhook_id"])


async def test_a_delivery_out_of_tries_is_a_dead_letter_and_can_be_redelivered(
    api: httpx.AsyncClient, run_worker: RunWorker, hook_receiver: Receiver, quick_retries: None
) -> None:
    created = await register(api, hook_receiver.url())
    hook_receiver.statuses = [503] * get_settings().webhook_max_tries
    image_id = await upload(api, "images", "baseline", "hopper.png")

    await run_worker()

    assert len(hook_receiver.received) == get_settings().webhook_max_tries
    assert (await webhooks(api))[created["webhook_id"]]["dead_letters"] == 1

    resp = await api.post(f"/webhooks/{created['webhook_id']}/redeliver")
    assert (resp.status_code, resp.json()) == (202, {"redelivered": 1})
    await run_worker()

    last = hook_receiver.received[-1]
    assert json.loads(last.body)["image_id"] == image_id
    assert last.body == hook_receiver.received[0].body
    assert (await webhooks(api))[created["webhook_id"]]["dead_letters"] == 0
    await unregister(api, created["webhook_id"])


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://127.0.0.1:9/hook", "invalid_webhook_url"),  # plain http
        ("ftp://example.com/hook", "invalid_webhook_url"),
        ("https://user:pw@example.com/hook", "invalid_webhook_url"),
        ("https://127.0.0.1/hook", "forbidden_address"),
        ("https://localhost/hook", "forbidden_address"),
        ("https://10.1.2.3/hook", "forbidden_address"),
        ("https://169.254.169.254/latest/meta-data/", "forbidden_address"),
        ("https://[fd00:ec2::254]/", "forbidden_address"),
        ("https://[::ffff:192.168.0.1]/", "forbidden_address"),
        ("https://[64:ff9b::a9fe:a9fe]/", "forbidden_address"),  # NAT64 of the metadata address
    ],
)
async def test_deployed_registration_refuses_what_is_not_public_https(
    api: httpx.AsyncClient, deployed: None, url: str, code: str
) -> None:
    resp = await api.post("/webhooks", json={"url": url})
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["code"] == code


async def test_deployed_sender_refuses_a_host_that_now_resolves_to_loopback(
    api: httpx.AsyncClient, run_worker: RunWorker, hook_receiver: Receiver, deployed: None
) -> None:
    # as if its DNS pointed elsewhere at registration: the sender checks the address again at every delivery
    store = WebhookStore(dynamodb_client(), get_settings().webhooks_table)
    webhook, _ = store.create("local", hook_receiver.url(host="localhost", scheme="https"))
    await endpoints_changed(get_services(), "local")  # what the API does after its own registrations
    await upload(api, "images", "baseline", "hopper.png")

    await run_worker()

    assert hook_receiver.received == []
    assert (await webhooks(api))[webhook.webhook_id]["dead_letters"] == 1
    (dead,) = store.dead_letters("local", webhook.webhook_id)
    assert dead.error.code == "forbidden_address"
    assert dead.attempts == 1  # refused, not retried
    await unregister(api, webhook.webhook_id)


async def test_an_object_refused_at_the_trigger_is_posted_too(
    api: httpx.AsyncClient,
    run_worker: RunWorker,
    hook_receiver: Receiver,
    trigger: Handler,
    runtime: LambdaRuntime,
    stack_env: dict[str, str],
) -> None:
    created = await register(api, hook_receiver.url())
    event = aimed(load_event("s3-put.json"), stack_env["IMAGEPIPE_UPLOAD_BUCKET"])
    event["Records"][0]["s3"]["object"].update(key="uploads/huge-hooked.tif", size=10**12, versionId="huge-hooked")
    (result,) = (await runtime.invoke(trigger, event))["results"]
    assert result["outcome"] == "skipped"

    await run_worker()
    await unregister(api, created["webhook_id"])

    (delivery,) = hook_receiver.received
    body = json.loads(delivery.body)
    assert (body["image_id"], body["status"], body["error"]["code"]) == (result["image_id"], "failed", "too_large")


async def test_the_worker_keeps_the_endpoint_list_until_the_api_changes_it(
    api: httpx.AsyncClient, run_worker: RunWorker, hook_receiver: Receiver
) -> None:
    """The worker reads a tenant's endpoints from the table once, not at every image; a registration through
    the API reaches the very next image, and only a change made behind the API's back waits for the list to
    lapse (webhook_cache.TTL_SECONDS)."""
    first = await register(api, hook_receiver.url())
    one = await upload(api, "images", "baseline", "hopper.jpg")
    await run_worker()
    assert [json.loads(r.body)["image_id"] for r in hook_receiver.received] == [one]

    with receiver() as other:
        store = WebhookStore(dynamodb_client(), get_settings().webhooks_table)
        behind, behind_secret = store.create("local", other.url())  # not through the API: nobody told the worker
        two = await upload(api, "images", "baseline", "hopper.png")
        await run_worker()
        assert other.received == []  # the list the worker kept

        await endpoints_changed(get_services(), "local")  # as the API does after a change
        three = await upload(api, "images", "baseline", "hopper.gif")
        await run_worker()
        (delivery,) = other.received
        assert json.loads(delivery.body)["image_id"] == three
        assert verify(behind_secret, delivery.headers["Imagepipe-Signature"], delivery.body, now=int(time.time()))

        await unregister(api, first["webhook_id"])
        await unregister(api, behind.webhook_id)
        await upload(api, "images", "baseline", "hopper.webp")
        await run_worker()
    assert sorted(json.loads(r.body)["image_id"] for r in hook_receiver.received) == sorted([one, two, three])
    assert len(other.received) == 1  # deleted: nothing more for either
