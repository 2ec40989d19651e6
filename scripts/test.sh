#!/usr/bin/env bash
# `make test`: virtualenv, server binaries, lint, types, then pytest against real servers.
# PostgreSQL and Redis: HEALTHMON_TEST_DATABASE_URL / HEALTHMON_TEST_REDIS_URL when set, else
# 127.0.0.1:5432 and :6379; when nothing answers, tests/conftest.py starts throwaway servers.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
scripts/venv.sh
scripts/servers.sh
echo "== ruff" && "$VENV/bin/ruff" check .
echo "== mypy" && "$VENV/bin/mypy"
echo "== import contracts" && "$VENV/bin/lint-imports"
echo "== pytest" && "$VENV/bin/pytest" "$@"
