#!/usr/bin/env bash
# `make demo` (for now): the critical tier once, on the embedded SQLite store, against the
# PostgreSQL and Redis of this machine (override with HEALTHMON_DEMO_PG_DSN / HEALTHMON_DEMO_REDIS_URL).
set -uo pipefail
cd "$(dirname "$0")/.."
export HEALTHMON_CONFIG=${HEALTHMON_CONFIG:-examples/demo.yaml}
export HEALTHMON_DATA_DIR=${HEALTHMON_DATA_DIR:-$PWD/.demo}
.venv/bin/healthmon db upgrade || exit $?
.venv/bin/healthmon check --tier critical
rc=$?
# exit 1 only means something is not healthy: the demo itself worked
((rc <= 1)) || exit $rc
