"""Settings refuse what would be unsafe in a deployment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from imagepipe.settings import Settings, describe_environment_errors

REPO = Path(__file__).resolve().parents[2]


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


def test_a_wrong_variable_is_named_without_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGEPIPE_ENGINE", "bogus")
    monkeypatch.setenv("IMAGEPIPE_MAX_UPLOAD_BYTES", "secret-ish")
    with pytest.raises(ValidationError) as raised:
        Settings()
    described = describe_environment_errors(raised.value)
    assert "IMAGEPIPE_ENGINE: Input should be 'vips' or 'pillow'" in described
    assert "IMAGEPIPE_MAX_UPLOAD_BYTES: Input should be a valid integer" in described
    assert "bogus" not in described and "secret-ish" not in described  # a value may be a password


@pytest.mark.parametrize("program", ["infra/local/stack.py", "functions/worker/serve.py"])
def test_the_stack_and_the_worker_refuse_a_wrong_variable_in_one_line(program: str) -> None:
    """``IMAGEPIPE_ENGINE=bogus make run``: one line naming the variable, not a traceback, and nothing started."""
    script = REPO / program
    env = {**os.environ, "IMAGEPIPE_ENGINE": "bogus", "PYTHONPATH": str(REPO / "layers" / "shared")}
    result = subprocess.run(
        [sys.executable, script.name], cwd=script.parent, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().endswith("IMAGEPIPE_ENGINE: Input should be 'vips' or 'pillow'"), result.stderr
