#!/usr/bin/env bash
# `make bench`: the quick mode of the benchmarks (1,000 tenants, one round, a few days of
# history), to notice a regression in a few minutes; docs/performance.md has the full runs and
# how to compare two runs' JSON lines. Each benchmark prints its figures and its JSON line; the
# JSON lines are printed again at the end, one per benchmark, prefixed by its name.
#   HEALTHMON_BENCH_SERVER_URL  PostgreSQL server the PostgreSQL benchmarks create their own
#                               (dropped) databases on (default postgresql://postgres@127.0.0.1:5432/postgres)
#   HEALTHMON_BENCH_DATABASE_URL, HEALTHMON_BENCH_REDIS_URL  the tier run's store and cache
#                               (default: a temporary SQLite file, no Redis)
#   HEALTHMON_BENCH_SKIP        benchmarks to leave out, e.g. "matrix_render" on a busy machine
#   HEALTHMON_BENCH_FACES_REDIS_URL  the Redis database faces empties and uses (default db 14)
#   HEALTHMON_BENCH_ALL=1       also uptime, which has no quick mode (about 50 s more), and faces
#                               at 1,000 tenants (about 50 s more)
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
SERVER_URL=${HEALTHMON_BENCH_SERVER_URL:-postgresql://postgres@127.0.0.1:5432/postgres}

# the peer benchmarks/tier_throughput.py compares with, and what drives it, from Debian
missing=()
command -v prometheus-blackbox-exporter >/dev/null || command -v blackbox_exporter >/dev/null \
  || missing+=(prometheus-blackbox-exporter)
command -v ab >/dev/null || missing+=(apache2-utils)
if ((${#missing[@]})); then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "== apt-get install ${missing[*]}"
    # the package list may be stale on a fresh machine: update only when the install needs it
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
      || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
             --no-install-recommends "${missing[@]}"; } \
      || echo "== could not install ${missing[*]}: tier_throughput skips the blackbox_exporter figure"
  else
    echo "== ${missing[*]} not installed and not root (or no apt-get):" \
      "tier_throughput skips the blackbox_exporter figure"
  fi
fi

# the PostgreSQL benchmarks need a server; without one they are skipped, not failed
if "$PY" -c 'import sys, psycopg; psycopg.connect(sys.argv[1], connect_timeout=3).close()' "$SERVER_URL" \
  2>/dev/null; then
  postgres=1
else
  postgres=0
  echo "== no PostgreSQL at $SERVER_URL: storage, uptime, service_overview, threshold_preview and faces skipped"
fi

names=()
lines=()
failed=()
started=$SECONDS

# run NAME ARGS...: benchmarks/NAME.py with ARGS, its output shown as it comes, its last line kept
run() {
  local name=$1 out status
  shift
  if [[ " ${HEALTHMON_BENCH_SKIP:-} " == *" $name "* ]]; then
    echo "== $name skipped (HEALTHMON_BENCH_SKIP)"
    return
  fi
  echo "== $name $*"
  local t0=$SECONDS
  out=$(mktemp)
  "$PY" "benchmarks/$name.py" "$@" 2>&1 | tee "$out"
  status=${PIPESTATUS[0]}
  echo "== $name: $((SECONDS - t0)) s"
  if ((status == 0)); then
    names+=("$name")
    lines+=("$(tail -n 1 "$out")")
  else
    failed+=("$name (exit $status)")
  fi
  rm -f "$out"
}

run tier_throughput --tenants 1000 --rounds 1
run wall_clock --rounds 1
run alert_latency --alerts 10
run api_matrix --tenants 1000 --requests 20 --paced-s 6
# Chromium and Streamlit start whatever --loads is: most of its 40 s
run matrix_render --tenants 1000 --loads 1
if ((postgres)); then
  run storage --server-url "$SERVER_URL" --tenants 1000 --day-rows 50000 --days 3 --rows-per-day 5000
  run service_overview --server-url "$SERVER_URL" --tenants 1000 --days 1 --repeat 1
  run threshold_preview --server-url "$SERVER_URL" --tenants 1000 --days 2 --repeat 1
  # every face on a seeded bench_faces_1000 (dropped afterwards), with Redis database 14; like
  # uptime, only with HEALTHMON_BENCH_ALL=1: 51 s here (seeding 17 s, Chromium and both faces
  # starting), which would take the quick run past 3 minutes
  [[ ${HEALTHMON_BENCH_ALL:-} == 1 ]] && run faces --server-url "$SERVER_URL" --tenants 1000 --long-tenants 10 \
    --long-days 3 --requests 20 --loads 1 --redis-url "${HEALTHMON_BENCH_FACES_REDIS_URL:-redis://127.0.0.1:6379/14}"
  # uptime has no quick mode: whatever --days, it writes 3 days of shopify (~1 M rows in all)
  # and rolls up 1,453 hours, about 50 s here, which takes the whole past 3 minutes
  [[ ${HEALTHMON_BENCH_ALL:-} == 1 ]] && run uptime --server-url "$SERVER_URL" --tenants 1000 --days 1 --repeat 1
fi

echo "== JSON lines ($((SECONDS - started)) s in all)"
for i in "${!names[@]}"; do
  echo "${names[$i]} ${lines[$i]}"
done
if ((${#failed[@]})); then
  echo "== failed: ${failed[*]}"
  exit 1
fi
