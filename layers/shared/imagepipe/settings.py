"""One settings object per process, read from ``IMAGEPIPE_*`` environment variables."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from imagepipe.keys import TENANT_PATTERN
from imagepipe.models import DEFAULT_RECIPE, Recipe


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IMAGEPIPE_", extra="ignore")

    redis_url: str = "redis://127.0.0.1:6379/0"
    # Deployed: the ElastiCache auth token, injected by ECS from Secrets Manager or read by the
    # functions at cold start from the secret named here.
    redis_password: SecretStr | None = None
    redis_auth_secret_arn: str | None = None
    redis_retries: int = Field(default=12, ge=0, description="per command, backing off up to 2 s each")
    queue_name: str = "imagepipe:queue"
    upload_bucket: str = "imagepipe-uploads"
    output_bucket: str = "imagepipe-outputs"
    table_name: str = "imagepipe-images"
    keys_table: str = "imagepipe-keys"
    upload_prefix: str = "uploads/"
    output_prefix: str = "images/"

    default_recipe: Recipe = DEFAULT_RECIPE
    # the tenant of objects dropped into the upload bucket under no tenant's name, and of records made before tenants
    default_tenant: str = Field(default="local", pattern=TENANT_PATTERN)
    # set (API only) when API Gateway's JWT authorizer stands in front: the claim that names the caller's tenant
    jwt_tenant_claim: str = ""

    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    max_pixels: int = Field(default=50_000_000, ge=1)
    max_frames: int = Field(default=100, ge=1)
    max_animation_pixels: int = Field(
        default=100_000_000, ge=1, description="frames x width x height of an animation kept animated"
    )
    max_output_dimension: int = Field(default=4096, ge=1)
    # one recipe's cost: the sum of its variants' boxes, and AVIF (the slowest encoder) kept smaller
    max_recipe_pixels: int = Field(default=25_000_000, ge=1)
    max_avif_dimension: int = Field(default=2048, ge=1)

    presign_expiry_seconds: int = Field(default=300, ge=10, le=3600)

    job_timeout_seconds: int = Field(default=120, ge=1)
    max_tries: int = Field(default=5, ge=1)
    max_jobs: int = Field(default=8, ge=1)
    poll_delay_seconds: float = Field(default=0.05, gt=0)
    keep_result_seconds: int = Field(default=86_400, ge=0)
    retry_base_seconds: float = Field(default=1.0, gt=0, description="first backoff step of transient retries")
    graceful_shutdown_seconds: int = Field(default=100, ge=0, description="SIGTERM: time for running jobs")
    heartbeat_seconds: float = Field(default=5.0, gt=0)
    heartbeat_ttl_seconds: float = Field(default=30.0, gt=0)
    sweep_every_seconds: int = Field(default=60, ge=1, le=60, description="how often a worker sweeps")
    stuck_after_seconds: int = Field(default=600, ge=1, description="queued/processing longer means lost")
    sweep_limit: int = Field(default=1000, ge=1, description="records and objects one sweep looks at")
    # On for `make run` and the tests only: it lets the key `make run` prints work, and webhooks call
    # http://127.0.0.1 receivers. Refused in a deployment.
    local_mode: bool = False
    rate_limit_per_minute: int = Field(default=600, ge=1, description="requests per API key per minute")

    imaging_executor: Literal["process", "thread"] = "process"
    imaging_workers: int = Field(default=0, ge=0, description="0 means one per core")
    engine: Literal["vips", "pillow"] | None = Field(default=None, description="None: vips where pyvips imports")

    # completion webhooks and events
    webhooks_table: str = "imagepipe-webhooks"
    event_bus: str = Field(default="", description="EventBridge bus for ImageProcessed events; empty: none")
    webhook_max_tries: int = Field(default=8, ge=1, description="deliveries tried before a dead letter")
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    webhook_retry_base_seconds: float = Field(default=2.0, gt=0, description="first backoff step of deliveries")

    @model_validator(mode="after")
    def _local_mode_stays_local(self) -> Settings:
        deployed = [name for name in _DEPLOYED_MARKERS if os.environ.get(name)]
        if self.local_mode and deployed:
            raise ValueError(f"IMAGEPIPE_LOCAL_MODE=true is refused in a deployment ({deployed[0]} is set)")
        return self


# Set by the platforms this deploys to; a local-mode key must never work there.
_DEPLOYED_MARKERS = ("AWS_LAMBDA_FUNCTION_NAME", "ECS_CONTAINER_METADATA_URI_V4", "ECS_CONTAINER_METADATA_URI")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, built once."""
    return Settings()


def environment_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """What is wrong with the environment the settings were read from: each variable's name
    (``IMAGEPIPE_ENGINE``) and what its value should be. Values are not repeated: one may hold a password."""
    prefix = Settings.model_config.get("env_prefix", "")
    found = []
    for error in exc.errors():
        name = f"{prefix}{error['loc'][0]}".upper() if error["loc"] else "the IMAGEPIPE_ settings"
        found.append((name, error["msg"]))
    return found


def describe_environment_errors(exc: ValidationError) -> str:
    """:func:`environment_errors` as one line: ``IMAGEPIPE_ENGINE: Input should be 'vips' or 'pillow'``."""
    return "; ".join(f"{name}: {message}" for name, message in environment_errors(exc))
