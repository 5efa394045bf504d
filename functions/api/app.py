"""The API Lambda: FastAPI app and its Mangum handler (``app.handler`` in template.yaml)."""

from __future__ import annotations

from fastapi import FastAPI
from mangum import Mangum

from api import errors, health, images, queue, uploads

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

# Mangum runs the ASGI lifespan on every invocation, so nothing is set up there: clients are built
# once per process by api.services.
handler = Mangum(app, lifespan="off")
