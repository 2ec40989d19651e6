"""`healthmon monitors`: the monitors and their metrics."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from healthmon.monitors.registry import MONITORS
from healthmon.monitors.result import Tier


def monitors(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List every monitor: its tier, whether it runs per tenant, and the metrics it reports."""
    import json

    from rich.table import Table

    rows = sorted(MONITORS.values(), key=lambda m: (list(Tier).index(m.tier), m.service))
    if as_json:
        for m in rows:
            print(
                json.dumps(
                    {
                        "service": m.service,
                        "tier": m.tier.value,
                        "per_tenant": m.per_tenant,
                        "metrics": list(m.metrics),
                    }
                )
            )
        return
    table = Table(title=f"{len(rows)} monitors")
    for column in ("service", "tier", "per tenant", "metrics"):
        table.add_column(column)
    for m in rows:
        table.add_row(m.service, m.tier.value, "yes" if m.per_tenant else "no", ", ".join(m.metrics))
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.command()(monitors)
