"""Time from a breach observed in a tier run to the notification received by each local channel.

    .venv/bin/python benchmarks/alert_latency.py [--alerts 50] [--database-url URL]

Each round: the critical tier checks a PostgreSQL DSN that refuses connections (open_after=1,
so the first observation opens the alert), the alert step sends to the sandbox's Slack
webhook, PagerDuty and webhook receivers and to an SMTP server on loopback; then the alert is
resolved by hand and the next round starts. Observation = the failing result's checked_at;
receipt = when the receiver stored the message. Ends with one JSON line of the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiosmtpd.controller import Controller

from healthmon.config import Settings
from healthmon.config.loader import parse_config
from healthmon.flows.alerts import resolve, send_now
from healthmon.flows.app import build_app
from healthmon.flows.pipeline import run_tier
from healthmon.flows.refs import TierRequest
from healthmon.monitors.result import Tier
from healthmon.sandbox import SandboxState, start_in_thread
from healthmon.storage import alerts as store
from healthmon.storage.migrate import upgrade
from healthmon.storage.results import run_results
from tests.support.servers import free_port


@dataclass
class Inbox:
    times: list[float] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.times.append(time.time())
        return "250 OK"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=50)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    inbox = Inbox()
    port = free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    with start_in_thread(SandboxState.generate(0)) as sandbox, tempfile.TemporaryDirectory() as tmp:
        root = sandbox.base_url
        config = parse_config(
            {
                "services": {"postgres": {"dsn": f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"}},
                "channels": {
                    "slack": {"webhook_url": f"{root}/slack/services/T000/B000/XXXX"},
                    "email": {
                        "host": "127.0.0.1",
                        "port": port,
                        "starttls": False,
                        "from": "hm@test",
                        "to": ["x@test"],
                    },
                    "pagerduty": {
                        "routing_key": sandbox.state.platform.pagerduty_routing_key,
                        "events_url": f"{root}/pagerduty/v2/enqueue",
                    },
                    "webhook": {"url": f"{root}/webhook/healthmon"},
                },
                "run": {"confirm_retries": 0},
                "alerting": {"open_after": 1},
            },
            env={},
        )
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        runtime = build_app(Settings(database_url=url, data_dir=Path(tmp)), config)
        upgrade(runtime.engine)
        lag: dict[str, list[float]] = {"slack": [], "pagerduty": [], "webhook": [], "email": []}
        started = time.perf_counter()
        for _ in range(args.alerts):
            sandbox.state.clear_received()
            inbox.times.clear()
            summary = await run_tier(runtime, TierRequest(Tier.CRITICAL, force=True))
            (result,) = run_results(runtime.engine, [summary.run_id])
            observed = result.checked_at.timestamp()
            for channel in ("slack", "pagerduty", "webhook"):
                lag[channel].append(sandbox.state.received(channel)[0]["received_at"] - observed)
            lag["email"].append(inbox.times[0] - observed)
            (alert,) = store.list_alerts(runtime.engine, ["open"])
            await send_now(runtime, resolve(runtime, alert["id"], "bench"))
        wall = time.perf_counter() - started
        runtime.close()
    smtp.stop()

    figures: dict[str, Any] = {"alerts": args.alerts, "database": url.split(":")[0], "wall_s": round(wall, 2)}
    print(f"{args.alerts} alerts, database {figures['database']}, {wall:.1f} s")
    print(f"{'channel':10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for channel, values in lag.items():
        figures[f"{channel}_p50_ms"] = pct(values, 0.5)
        figures[f"{channel}_p99_ms"] = pct(values, 0.99)
        figures[f"{channel}_max_ms"] = round(max(values) * 1000, 1)
        print(
            f"{channel:10} {figures[f'{channel}_p50_ms']:8} {figures[f'{channel}_p99_ms']:8} "
            f"{figures[f'{channel}_max_ms']:8}"
        )
    print(f"reproduce: .venv/bin/python benchmarks/alert_latency.py --alerts {args.alerts}")
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
