"""Service detail's overview of a per-tenant service (no tenant picked) at 1,000 tenants x 7 days,
on PostgreSQL.

    .venv/bin/python benchmarks/service_overview.py [--server-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--tenants 1000] [--days 7] [--repeat 3]

It creates (and drops) its own database filled as benchmarks/uptime.py fills it (meta_ads every
15 min per tenant for `--days`, shopify every 5 min for 3 days), then times what the overview
reads per refresh: `storage.queries.tenants_over_time` (latency percentiles and failing tenants
per bucket, in SQL) and the uptime distribution (`flows.slo.uptime_over`). Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.scratch import scratch_database
from benchmarks.uptime import CONFIG, fill, timed
from healthmon.config import Settings
from healthmon.config.loader import parse_config
from healthmon.flows.app import App, build_app
from healthmon.flows.slo import uptime_over
from healthmon.storage.migrate import upgrade
from healthmon.storage.partitions import ensure_partitions
from healthmon.storage.queries import BUCKETS, WINDOWS, tenants_over_time


def measure(runtime: App, service: str, window: str, now: datetime, repeat: int) -> dict[str, Any]:
    """What one refresh of the overview reads: the buckets, then the uptime distribution."""
    since = now - WINDOWS[window]
    ms, found = timed(lambda: tenants_over_time(runtime.engine, service, since, BUCKETS[window]), repeat)
    uptime_ms, uptimes = timed(lambda: uptime_over(runtime, [service], window, now), repeat)
    return {
        f"{service}_{window}_over_time_ms": ms,
        f"{service}_{window}_buckets": len(found.statuses),
        f"{service}_{window}_uptime_ms": uptime_ms,
        f"{service}_{window}_tenants": len(uptimes),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    figures: dict[str, Any] = {"tenants": args.tenants, "days": args.days}
    with scratch_database(args.server_url) as url, tempfile.TemporaryDirectory() as tmp:
        runtime = build_app(Settings(database_url=url, data_dir=Path(tmp)), parse_config(CONFIG, env={}))
        try:
            upgrade(runtime.engine)
            ensure_partitions(runtime.engine, today=now.date(), days_ahead=1, days_behind=args.days + 2)
            figures["rows"] = fill(runtime.engine, now, args.tenants, args.days)
            for service, window in (("meta_ads", "7d"), ("meta_ads", "24h"), ("shopify", "24h")):
                figures |= measure(runtime, service, window, now, args.repeat)
        finally:
            runtime.close()
    for key, value in figures.items():
        print(f"{key:>32}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
