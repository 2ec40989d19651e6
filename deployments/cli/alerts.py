"""`healthmon alerts`: list, acknowledge, resolve, deliver."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from healthmon.deployments import exit_codes
from healthmon.deployments.cli.common import _fail, _who, _with_app, err

if TYPE_CHECKING:
    from healthmon.flows.alerts import BulkChange
    from healthmon.flows.app import App


alerts_app = typer.Typer(help="Alerts: list, acknowledge, resolve, deliver.", no_args_is_help=True)


@alerts_app.command("list")
def alerts_list(
    status: Annotated[
        list[str] | None, typer.Option(help="open, acknowledged, resolved (repeatable)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Alerts, newest first (default: open and acknowledged)."""
    import json

    from rich.table import Table

    from healthmon.storage.alerts import list_alerts

    chosen = status or ["open", "acknowledged"]
    bad = sorted(set(chosen) - {"open", "acknowledged", "resolved"})
    if bad:
        _fail(exit_codes.USAGE, f"--status: unknown status {bad[0]!r} (open, acknowledged, resolved)")
    rows = _with_app(lambda rt: list_alerts(rt.engine, chosen))
    if as_json:
        for row in rows:
            print(json.dumps(row, default=str))
        return
    table = Table(title=f"{len(rows)} alerts")
    for column in ("id", "severity", "status", "title", "count", "since", "last seen", "held"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["severity"],
            r["status"],
            r["title"],
            str(r["count"]),
            f"{r['first_seen']:%Y-%m-%d %H:%M}",
            f"{r['last_seen']:%Y-%m-%d %H:%M}",
            r["held"] or "",
        )
    Console().print(table)


def _change(alert_ids: list[int] | None, group: str | None, note: str | None, who: str, action: str) -> None:
    from healthmon.flows import alerts as flow_alerts

    if bool(alert_ids) == (group is not None):
        _fail(exit_codes.USAGE, "give alert ids or --group KEY (one of them)")
    if note is not None and len(note) > NOTE_MAX:
        _fail(exit_codes.USAGE, f"--note: at most {NOTE_MAX:,} characters")
    change = flow_alerts.acknowledge_many if action == "ack" else flow_alerts.resolve_many

    def work(app: App) -> BulkChange:
        done = change(app, flow_alerts.targets(app, alert_ids or (), group), who, note)
        asyncio.run(flow_alerts.send_now(app, done.notices))
        return done

    try:
        done = _with_app(work)
    except flow_alerts.AlertNotFound as missing:
        _fail(exit_codes.USAGE, f"no alert {flow_alerts.id_list(missing.args)}; nothing was changed")
    except ValueError as exc:
        _fail(exit_codes.USAGE, f"--group: {exc}")
    verb = "acknowledged" if action == "ack" else "resolved"
    line = f"{len(done.changed)} {verb} by {who}"
    if done.changed:
        line += f" ({flow_alerts.id_list(done.changed)})"
    if done.unchanged:
        line += f"; {len(done.unchanged)} unchanged ({flow_alerts.id_list(done.unchanged)})"
    if done.not_found:
        line += f"; {len(done.not_found)} gone meanwhile ({flow_alerts.id_list(done.not_found)})"
    err.print(f"{line}; {len(done.notices)} notices queued", highlight=False)


AlertIds = Annotated[
    list[int] | None, typer.Argument(metavar="alert_id", help="one or more alert ids", show_default=False)
]
Group = Annotated[
    str | None, typer.Option("--group", help="every live alert of this group, e.g. meta_ads|health")
]
Note = Annotated[str | None, typer.Option(help="kept on every alert changed")]
By = Annotated[str | None, typer.Option(help="who (default $USER)")]
NOTE_MAX = 1000


@alerts_app.command("ack")
def alerts_ack(alert_id: AlertIds = None, group: Group = None, note: Note = None, by: By = None) -> None:
    """Acknowledge alerts (ids, or a whole --group): stops re-notification; PagerDuty and Slack
    (bot) are told. An alert already acknowledged or resolved is left as it is."""
    _change(alert_id, group, note, by or _who(), "ack")


@alerts_app.command("resolve")
def alerts_resolve(alert_id: AlertIds = None, group: Group = None, note: Note = None, by: By = None) -> None:
    """Resolve by hand (ids, or a whole --group); the channels that got each alert get a
    resolved notice."""
    _change(alert_id, group, note, by or _who(), "resolve")


@alerts_app.command("deliver")
def alerts_deliver(
    now: Annotated[bool, typer.Option("--now", help="ignore the retry backoff")] = False,
) -> None:
    """Send pending notifications once (what the delivery flow does every minute).
    Exit 1 when rows are still pending afterwards (retrying, waiting behind an earlier row, or
    leased by another sender) or a row failed for good in this run."""
    from datetime import UTC, datetime

    from healthmon.alerting.delivery import DeliveryReport
    from healthmon.flows.alerts import deliver_pending
    from healthmon.storage.alerts import PendingCount, count_pending

    def work(rt: App) -> tuple[DeliveryReport, PendingCount]:
        report = asyncio.run(deliver_pending(rt, ignore_backoff=now))
        return report, count_pending(rt.engine, datetime.now(UTC))

    report, left = _with_app(work)
    line = f"delivered {report.delivered}, retrying {report.retrying}, failed {report.failed}"
    if report.skipped:
        line += f" (and {report.skipped} acknowledge/resolve not sent: their trigger failed)"
    if left.pending:
        line += f"; {left.pending} still pending"
        if left.leased and left.leased_until is not None:
            line += f" ({left.leased} leased by another sender until {left.leased_until:%H:%M:%S} UTC)"
    else:
        line += "; nothing pending"
    err.print(line, highlight=False)
    if left.pending or report.failed or report.skipped:
        raise typer.Exit(exit_codes.NOT_HEALTHY)


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")
