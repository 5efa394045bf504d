#!/usr/bin/env bash
# `make validate`: sam validate --lint (cfn-lint over the SAM template), offline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/sam.sh validate --lint --region "${AWS_DEFAULT_REGION:-us-east-1}"
