#!/usr/bin/env bash
# `make run`: what a new user sees first.
set -euo pipefail
cd "$(dirname "$0")/.."
./joulebench --version
