#!/usr/bin/env bash
# `make build`: sam build. The functions run on python3.12, so SAM needs a python3.12 on PATH; pyenv's is
# used when the shell has none. Without any, the build is skipped with the reason (exit 0).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3.12 --version >/dev/null 2>&1; then
  if command -v pyenv >/dev/null 2>&1 && prefix=$(pyenv prefix "$(pyenv versions --bare | grep -E '^3\.12' | tail -1)" 2>/dev/null); then
    export PATH="$prefix/bin:$PATH"
  fi
fi
if ! python3.12 --version >/dev/null 2>&1; then
  echo "sam build skipped: no python3.12 on PATH (the functions' runtime); install Python 3.12 to build"
  exit 0
fi
bash infra/sam.sh build --region "${AWS_DEFAULT_REGION:-us-east-1}" "$@"
echo "sam build: .aws-sam/build holds ApiFunction, S3TriggerFunction, BacklogFunction and SharedLayer"
