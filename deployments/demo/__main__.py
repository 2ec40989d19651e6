"""`python -m healthmon.deployments.demo`: the demo's own entry, the same as `healthmon demo`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from healthmon.deployments.demo.runner import run_demo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m healthmon.deployments.demo", description="healthmon demo"
    )
    parser.add_argument("--api-port", type=int, default=8000)
    parser.add_argument("--dashboard-port", type=int, default=8501)
    parser.add_argument("--sandbox-port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--tenants", type=int, default=12)
    parser.add_argument("--data-dir", type=Path, default=Path(".demo"))
    parser.add_argument("--no-ui", dest="ui", action="store_false", help="no API and dashboard")
    # multiplies every interval; tests use it to go faster
    parser.add_argument("--interval-scale", type=float, default=1.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    return run_demo(
        api_port=args.api_port,
        dashboard_port=args.dashboard_port,
        sandbox_port=args.sandbox_port,
        tenants=args.tenants,
        data_dir=args.data_dir,
        ui=args.ui,
        interval_scale=args.interval_scale,
    )


if __name__ == "__main__":
    sys.exit(main())
