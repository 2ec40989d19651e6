"""Time for the dashboard's matrix page to render fully in Chromium, at 1,000 tenants x 17 services.

    .venv/bin/python benchmarks/matrix_render.py [--tenants 1000] [--loads 5] [--database-url URL]

Seeds `service_status` with one result per (service, tenant) for all 17 services (the worst
case: only 4 services are per tenant in production), starts `healthmon dashboard`, and loads
the page in headless Debian Chromium through ChromeDriver. A load counts as rendered when the
counts show every target and both grids (platform and tenants) are drawn. The first load
also pays Streamlit's script start; later loads are what an admin sees when coming back.
Ends with one JSON line of the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from healthmon.monitors.registry import MONITORS
from healthmon.monitors.result import CheckResult, Status
from healthmon.storage.db import make_engine
from healthmon.storage.migrate import upgrade
from healthmon.storage.results import record_results
from tests.browser.test_dashboard_browser import chrome, metric_values
from tests.support.servers import free_port
from tests.support.waiting import http_ok, wait_until

ROOT = Path(__file__).resolve().parent.parent
SECRET = "benchmark-secret-key-0123456789"


def seed(url: str, tenants: int) -> int:
    engine = make_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    rng = random.Random(7)
    statuses = [Status.HEALTHY] * 90 + [Status.DEGRADED] * 6 + [Status.UNHEALTHY] * 3 + [Status.UNKNOWN]
    results = [
        CheckResult(s, f"tenant-{n:05d}", m.tier, rng.choice(statuses), rng.uniform(20, 900), {}, now)
        for s, m in MONITORS.items()
        for n in range(tenants)
    ]
    for start in range(0, len(results), 5000):
        record_results(engine, results[start : start + 5000], "benchmark")
    engine.dispose()
    return len(results)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/matrix.db"
        cells = seed(url, args.tenants)
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("HEALTHMON_")},
            "HEALTHMON_DATABASE_URL": url,
            "HEALTHMON_SECRET_KEY": SECRET,
            "HEALTHMON_CONFIG": "",
            "HEALTHMON_DATA_DIR": tmp,
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "healthmon.deployments.cli", "dashboard", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        driver = None
        try:
            wait_until(lambda: http_ok(f"{base}/_stcore/health"), 60, "the dashboard to come up")
            driver = chrome()
            shown = {str(cells), f"{cells:,}"}

            def rendered(d: Any) -> bool:
                grids = d.find_elements(By.CSS_SELECTOR, '[data-testid="stDataFrame"] canvas')
                return metric_values(d).get("targets") in shown and len(grids) >= 2

            def load(browser: Any) -> float:
                browser.get("about:blank")
                started = time.perf_counter()
                browser.get(f"{base}/")
                WebDriverWait(browser, 120, poll_frequency=0.05).until(rendered)
                return round(time.perf_counter() - started, 3)

            loads = [load(driver) for _ in range(args.loads)]
            # a second, new browser on the now warm server: what a first visit costs the browser
            # itself (Streamlit's JavaScript not yet in its cache)
            fresh = chrome()
            try:
                new_browser = load(fresh)
            finally:
                fresh.quit()
        finally:
            if driver is not None:
                driver.quit()
            server.terminate()
            server.wait(timeout=30)
    later = loads[1:] or loads
    figures = {
        "tenants": args.tenants,
        "services": len(MONITORS),
        "cells": cells,
        "database": url.split(":")[0],
        "first_load_s": loads[0],
        "new_browser_warm_server_s": new_browser,
        "loads_s": loads,
        "p50_s": round(statistics.median(later), 3),
        "max_s": max(later),
    }
    print(
        f"matrix page, {cells} cells: first load {loads[0]} s, then p50 {figures['p50_s']} s, "
        f"max {figures['max_s']} s over {len(later)} loads; a new browser on the warm server {new_browser} s"
    )
    print("reproduce: .venv/bin/python benchmarks/matrix_render.py " + " ".join(sys.argv[1:]))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
