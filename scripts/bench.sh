#!/usr/bin/env bash
# `make bench`: speed benchmarks. Each section prints what it measured; nothing here is a test.
set -euo pipefail
cd "$(dirname "$0")/.."
./joulebench --version
