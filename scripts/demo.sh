#!/usr/bin/env bash
# `make demo` (after `make venv`): the sandbox with a dozen tenants, a local Prefect server and
# `healthmon serve` running every tier on demo intervals, the API and the dashboard
# (`healthmon demo --help` for the options; `--fresh` starts from an empty store).
# exec, so that Ctrl-C reaches the demo itself and it can stop everything cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${VENV:-.venv}/bin/healthmon" demo "$@"
