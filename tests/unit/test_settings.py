"""Settings refuse what would be unsafe in a deployment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from imagepipe.settings import Settings


@pytest.mark.parametrize("marker", ["AWS_LAMBDA_FUNCTION_NAME", "ECS_CONTAINER_METADATA_URI_V4"])
def test_local_mode_is_refused_in_a_deployment(monkeypatch: pytest.MonkeyPatch, marker: str) -> None:
    monkeypatch.setenv(marker, "imagepipe-api")
    with pytest.raises(ValidationError, match="IMAGEPIPE_LOCAL_MODE=true is refused in a deployment"):
        Settings(local_mode=True)
    assert Settings.model_fields["local_mode"].default is False
    assert Settings(local_mode=False).local_mode is False  # what a deployment runs with


def test_local_mode_is_allowed_on_a_workstation(monkeypatch: pytest.MonkeyPatch) -> None:
    for marker in ("AWS_LAMBDA_FUNCTION_NAME", "ECS_CONTAINER_METADATA_URI_V4", "ECS_CONTAINER_METADATA_URI"):
        monkeypatch.delenv(marker, raising=False)
    assert Settings(local_mode=True).local_mode is True
