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
# two workers by default (HEALTHMON_TEST_WORKERS=0 runs in one process). Each module's tests
# stay on one worker, sharing its fixtures (servers, a Prefect harness); the modules that run
# `healthmon serve` or the demo on a Prefect server of their own are handed out first, so that
# their minutes do not come last (tests/conftest.py)
workers=${HEALTHMON_TEST_WORKERS:-2}
if [[ $workers == 0 ]]; then
  echo "== pytest" && "$VENV/bin/pytest" "$@"
else
  echo "== pytest ($workers workers)" && "$VENV/bin/pytest" -n "$workers" --dist loadfile --no-loadscope-reorder "$@"
fi
