"""Printing results: a rich table for people, JSON lines for programs."""

from __future__ import annotations

import json
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from healthmon.monitors.result import CheckResult, Status

STYLE = {
    Status.HEALTHY: "green",
    Status.DEGRADED: "yellow",
    Status.UNHEALTHY: "bold red",
    Status.UNKNOWN: "magenta",
}


def print_json_lines(results: Sequence[CheckResult]) -> None:
    for result in results:
        print(json.dumps(result.to_json(), default=str, sort_keys=False))


def print_table(results: Sequence[CheckResult], console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title="healthmon check", show_lines=False)
    for column in ("service", "tenant", "tier", "status", "latency ms", "reason"):
        table.add_column(column, justify="right" if column == "latency ms" else "left")
    for r in results:
        latency = "" if r.latency_ms is None else f"{r.latency_ms:.1f}"
        table.add_row(
            r.service,
            r.tenant_id or "-",
            r.tier.value,
            f"[{STYLE[r.status]}]{r.status.value}[/]",
            latency,
            r.reason or "",
        )
    console.print(table)
