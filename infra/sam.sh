#!/usr/bin/env bash
# The SAM CLI from its own virtualenv (.venv-sam), installed on first use: it pins versions that do not
# belong in the project's environment.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-sam/bin/sam ]; then
  python3 -m venv .venv-sam
  .venv-sam/bin/pip install --quiet --upgrade pip
  .venv-sam/bin/pip install --quiet aws-sam-cli
fi
export SAM_CLI_TELEMETRY=0
exec .venv-sam/bin/sam "$@"
