"""The API Lambda: FastAPI app and its Mangum handler (``app.handler`` in template.yaml)."""

# ruff: noqa: E402 (the collector is switched off before the imports below)
from __future__ import annotations

import gc

# A cold start creates hundreds of thousands of objects, and the collector would walk them all twice on the
# way (about 110 ms of this module's 340, measured). It is off while this module imports; what the import
# made lives as long as the process, so it is then frozen out of every later collection too.
gc.disable()

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from fastapi import FastAPI
from mangum import Mangum

from api import apikeys, errors, health, images, page, queue, uploads, webhooks
from api.auth import KeyBeforeBody
from api.headers import SecurityHeaders
from api.limits import BodyLimit
from api.observability import logger, metrics, tracer
from imagepipe.settings import get_settings

app = FastAPI(
    title="imagepipe",
    version="0.1.0",
    summary="Upload images; get resized, filtered and described variants.",
)
errors.install(app)
app.include_router(uploads.router)
app.include_router(images.router)
app.include_router(health.router)
app.include_router(queue.router)
app.include_router(page.router)
app.include_router(webhooks.router)
app.include_router(apikeys.router)
# The last added runs first: every answer, a 413 included, gets the security headers; a body over the limit
# is refused before its key is looked up, and a body without a valid key before it is read.
app.add_middleware(KeyBeforeBody)
app.add_middleware(BodyLimit, limit=lambda: get_settings().max_upload_bytes)
app.add_middleware(SecurityHeaders)

# Mangum runs the ASGI lifespan on every invocation, so nothing is set up there: clients are built
# once per process by api.services.
asgi = Mangum(app, lifespan="off")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point (``app.handler`` in template.yaml)."""
    return asgi(event, context)  # type: ignore[arg-type]


gc.freeze()
gc.enable()
