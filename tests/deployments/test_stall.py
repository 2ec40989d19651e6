"""A served worker that stalls and comes back (issue 14, Done-when 3), end to end: a real
`healthmon serve` on its own Prefect server is stopped (SIGSTOP) for longer than two intervals
of its tier, the `prefect` monitor says so, and when it continues (SIGCONT) the pile of late runs
it finds leaves one run that checks: the newest."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import text

from healthmon.storage.db import make_engine
from tests.support.cli import healthmon, json_lines
from tests.support.serve import serve_env, start, stop
from tests.support.waiting import wait_until

#: the Prefect server serve starts (this module's port range is 4470-4479)
PREFECT_PORT = 4471
API = f"http://127.0.0.1:{PREFECT_PORT}/api"
TIER = "critical"
DEPLOYMENT = f"tier-{TIER}"
#: the served interval. Serve's runner takes a run up to 10 s before it is due (Prefect's
#: prefetch) and makes it Pending at once, which holds the tier's one slot through its
#: process's start (seconds on a loaded box) to its end: on an interval shorter than that the
#: next run asks while the slot is held and is cancelled, the tier completes every other
#: interval only (seen at 6 and 8 s), and the `prefect` monitor rightly calls that unhealthy
INTERVAL_S = 15
#: `services.prefect.late_after_s`: below the interval, so that the monitor's rule "late by more
#: than one interval" decides, not Prefect's 15 s default (as long as this test's interval)
LATE_AFTER_S = 3
#: a run that has not started yet, or is running
IN_FLIGHT = ["PENDING", "RUNNING"]
UPCOMING = ["SCHEDULED"]
#: the server's message for a run the deployment's limit (1, CANCEL_NEW) refused
CONCURRENCY_CANCELLED = "Deployment concurrency limit reached."
FINAL = ["COMPLETED", "CANCELLED", "FAILED", "CRASHED"]


def _runs(deployment_id: str, states: Sequence[str]) -> list[dict[str, Any]]:
    """The deployment's flow runs in `states` (state types), soonest scheduled first."""
    body = {
        "flow_runs": {"deployment_id": {"any_": [deployment_id]}, "state": {"type": {"any_": list(states)}}},
        "sort": "EXPECTED_START_TIME_ASC",
        "limit": 200,
    }
    answer = httpx.post(f"{API}/flow_runs/filter", json=body, timeout=10)
    answer.raise_for_status()
    runs: list[dict[str, Any]] = answer.json()
    return runs


def _run(run_id: str) -> dict[str, Any]:
    answer = httpx.get(f"{API}/flow_runs/{run_id}", timeout=10)
    answer.raise_for_status()
    run: dict[str, Any] = answer.json()
    return run


def _due(run: dict[str, Any], before: datetime) -> bool:
    return datetime.fromisoformat(run["expected_start_time"]) < before


def _lateness(deployment_id: str) -> list[float]:
    """Seconds past due of each upcoming run that is due, oldest first: what piles up while
    nothing polls."""
    now = datetime.now(UTC).timestamp()
    due = [
        now - datetime.fromisoformat(r["expected_start_time"]).timestamp()
        for r in _runs(deployment_id, UPCOMING)
    ]
    return [late_s for late_s in due if late_s > 0]


def _checked(database_url: str, flow_run_ids: Sequence[str]) -> list[tuple[str, str, str]]:
    """(flow_run_id, trigger, state) of the tier runs recorded for `flow_run_ids`: a run that
    checked anything records one; a superseded run none."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT flow_run_id, trigger, state FROM tier_runs WHERE tier = :tier"), {"tier": TIER}
            ).all()
    finally:
        engine.dispose()
    return [(r.flow_run_id, r.trigger, r.state) for r in rows if r.flow_run_id in set(flow_run_ids)]


def _scheduled_runs(database_url: str) -> list[tuple[str, str | None, datetime]]:
    """(id, flow_run_id, started_at) of the completed scheduled tier runs, oldest first."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            sql = (
                "SELECT id, flow_run_id, started_at FROM tier_runs WHERE tier = :tier "
                "AND state = 'completed' AND trigger = 'schedule' ORDER BY started_at"
            )
            rows = conn.execute(text(sql), {"tier": TIER}).all()
    finally:
        engine.dispose()
    return [(r.id, r.flow_run_id, _utc(r.started_at)) for r in rows]


def _utc(raw: str | datetime) -> datetime:
    """A time read by plain SQL: SQLite gives the stored text back, in UTC."""
    moment = datetime.fromisoformat(raw) if isinstance(raw, str) else raw
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _has_prefect_result(database_url: str, tier_run_id: str) -> bool:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            sql = "SELECT count(*) FROM health_check_history WHERE service = 'prefect' AND run_id = :id"
            return bool(conn.execute(text(sql), {"id": tier_run_id}).scalar())
    finally:
        engine.dispose()


def _prefect_result(database_url: str, tier_run_id: str) -> tuple[str, dict[str, Any]]:
    """The `prefect` monitor's result recorded by tier run `tier_run_id`."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            sql = (
                "SELECT status, details FROM health_check_history WHERE service = 'prefect' AND run_id = :id"
            )
            row = conn.execute(text(sql), {"id": tier_run_id}).one()
    finally:
        engine.dispose()
    details = row.details if isinstance(row.details, dict) else json.loads(row.details)
    return str(row.status), details


class Serve:
    """`healthmon serve` of the critical tier every INTERVAL_S, on its own Prefect server."""

    def __init__(self, tmp: Path, sqlite_template: Path, redis_url: str) -> None:
        config = tmp / "healthmon.yaml"
        # redis and the served Prefect: a cheap tier
        services = {"redis": {"url": redis_url}, "prefect": {"api_url": API, "late_after_s": LATE_AFTER_S}}
        config.write_text(yaml.safe_dump({"services": services}))
        shutil.copy(sqlite_template, tmp / "healthmon.db")  # migrated
        self.database_url = f"sqlite:///{tmp / 'healthmon.db'}"
        self.env = serve_env(tmp, config, self.database_url)
        self.log = tmp / "serve.log"
        argv = ["serve", "--prefect-port", str(PREFECT_PORT), "--tier-interval", f"{TIER}={INTERVAL_S}"]
        self.proc = start(argv, self.env, self.log)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def alive(self) -> bool:
        assert self.proc.poll() is None, self.output()
        return True

    def check_prefect(self) -> tuple[int, dict[str, Any]]:
        """`healthmon check --service prefect --json` by hand on the served Prefect API: its exit
        code and the result. The check runs in that process, as an ad-hoc flow run (not a run of
        the stalled deployment: no runner is needed)."""
        done = healthmon(
            "check", "--service", "prefect", "--json", env={**self.env, "PREFECT_API_URL": API}, timeout=90
        )
        results = [r for r in json_lines(done) if r["service"] == "prefect"]
        assert len(results) == 1, (done.returncode, done.stdout, done.stderr[-2000:])
        result: dict[str, Any] = results[0]
        return done.returncode, result


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, redis_url: str) -> Iterator[Serve]:
    served = Serve(tmp_path_factory.mktemp("stall"), sqlite_template, redis_url)
    try:
        yield served
    finally:
        if served.proc.poll() is None:
            os.kill(served.proc.pid, signal.SIGCONT)  # a stopped process cannot handle SIGTERM
            stop(served.proc)


def _is_the_runner(pid: int) -> bool:
    """The pid is `healthmon serve` itself (whose Prefect runner polls), not its Prefect server."""
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    return b"serve" in argv and b"server" not in argv


def _described(runs: Sequence[dict[str, Any]]) -> list[str]:
    return [f"{r['name']}: {r['state']['type']} {r['state']['name']} {r['state']['message']!r}" for r in runs]


def test_a_stalled_worker_makes_prefect_unhealthy_and_on_return_one_late_run_checks(serve: Serve) -> None:
    # 1. served, one scheduled run of the tier completes
    wait_until(lambda: serve.alive() and _scheduled_runs(serve.database_url), 120, "a tier run", every_s=0.5)
    deployment = httpx.get(f"{API}/deployments/name/tier-check/{DEPLOYMENT}", timeout=10).json()
    deployment_id = str(deployment["id"])
    assert _is_the_runner(serve.proc.pid), Path(f"/proc/{serve.proc.pid}/cmdline").read_bytes()

    # 2. stall the runner between two runs: a run it had started would finish in its own
    # process, but one it had only made Pending would hold the tier's one slot until it is back
    def stalled_between_runs() -> bool:
        if _runs(deployment_id, IN_FLIGHT):
            return False
        os.kill(serve.proc.pid, signal.SIGSTOP)
        if not _runs(deployment_id, IN_FLIGHT):
            return True
        os.kill(serve.proc.pid, signal.SIGCONT)
        return False

    wait_until(stalled_between_runs, 60, "a moment with no tier run in flight", every_s=0.1)
    stalled_at = datetime.now(UTC)
    before = [r["state"]["type"] for r in _runs(deployment_id, FINAL)]

    # Prefect itself keeps answering, and the runs its scheduler made fall due with nobody to start them
    def stalled_long_enough() -> bool:
        late = [late_s for late_s in _lateness(deployment_id) if late_s > LATE_AFTER_S]
        return len(late) >= 2 and late[0] > INTERVAL_S

    wait_until(stalled_long_enough, 60, "two late runs, the oldest by more than an interval")
    assert not _runs(deployment_id, IN_FLIGHT), "a tier run started while the runner was stopped"

    # 3. the monitor, by hand: unhealthy, naming the tier's deployment and its late runs
    code, during = serve.check_prefect()
    reason = str(during["details"]["reason"])
    assert (code, during["status"]) == (1, "unhealthy"), during
    late = rf"{DEPLOYMENT}: \d+ runs late, oldest \d+ s \(interval {INTERVAL_S} s\)"
    assert re.search(late, reason), reason
    assert during["details"]["late_by_deployment"][DEPLOYMENT] >= 2

    # 4. the runner comes back to the pile of runs due meanwhile
    resumed_at = datetime.now(UTC)
    pile = [r for r in _runs(deployment_id, UPCOMING) if _due(r, resumed_at)]
    os.kill(serve.proc.pid, signal.SIGCONT)
    assert len(pile) >= 2, _described(pile)
    pile_ids = [str(r["id"]) for r in pile]

    def first_check_after_the_pile() -> tuple[str, str | None] | None:
        serve.alive()
        if not all(_run(i)["state"]["type"] in FINAL for i in pile_ids):
            return None
        after = [
            (id_, run) for id_, run, started in _scheduled_runs(serve.database_url) if started >= resumed_at
        ]
        return after[0] if after else None

    _, winner_id = wait_until(first_check_after_the_pile, 90, "the pile ended and a check", every_s=0.5)
    ended = {i: _run(i) for i in pile_ids}
    seen = _described(list(ended.values()))
    # no replay: one run checks, and no other run of the pile checks anything
    assert winner_id is not None
    assert {run for run, _, _ in _checked(serve.database_url, pile_ids)} <= {winner_id}, seen
    # only the newest checks: serve's runner ended every older due run Superseded before it
    # started anything (deployments/newest_runner.py)
    for run_id, run in ended.items():
        if run_id == winner_id:
            continue
        state = (run["state"]["type"], run["state"]["name"])
        if run_id == pile_ids[-1] and winner_id not in pile_ids:
            # the newest due run and the next, not due yet, started together: that one asked
            # for the tier's slot first, and the deployment's limit refused this one
            assert state == ("CANCELLED", "Cancelled"), seen
            assert run["state"]["message"] == CONCURRENCY_CANCELLED, seen
            continue
        assert state == ("CANCELLED", "Superseded"), seen
        assert run["state"]["message"].endswith("and checks nothing"), seen
    if winner_id in pile_ids:
        assert winner_id == pile_ids[-1], seen
    else:
        # a run due just after the pile (started ahead of time, as Prefect's runner does): newer
        winner = _run(winner_id)
        assert winner["expected_start_time"] > pile[-1]["expected_start_time"], (winner, seen)
    ends = ended.items()
    print(
        f"\nbefore the stall: {before.count('COMPLETED')} completed, {before.count('CANCELLED')} cancelled"
        f"\nstalled {(resumed_at - stalled_at).total_seconds():.0f} s; by hand: {reason}\n"
        f"pile of {len(pile_ids)}: "
        + ", ".join(f"{r['name']} {'checked' if i == winner_id else r['state']['name']}" for i, r in ends)
        + ("" if winner_id in pile_ids else f"; checked: {_run(winner_id)['name']}, due just after")
    )

    # 5. the runs after the pile check on time, and their own `prefect` check is healthy again
    # (the first of them may skip it: the late winner checked it moments before)
    def on_time_after_the_pile() -> str | None:
        serve.alive()
        runs = _scheduled_runs(serve.database_url)
        later = runs[[flow_run_id for _, flow_run_id, _ in runs].index(winner_id) + 1 :]
        return next((id_ for id_, _, _ in later if _has_prefect_result(serve.database_url, id_)), None)

    next_run = wait_until(on_time_after_the_pile, 90, "a run on time after the pile", every_s=0.5)
    status, details = _prefect_result(serve.database_url, next_run)
    # degraded only while a run of another deployment (deliver) is late by less than its interval
    assert status == "healthy" or (status == "degraded" and DEPLOYMENT not in details["reason"]), details
    print(f"after: {status} {details.get('reason', '')}")
