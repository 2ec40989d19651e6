"""Two senders claiming one due alert group at the same moment, on PostgreSQL (issue 13).

storage.alerts.claim_groups serialises the claims of one (group, channel) with a
transaction-level advisory lock, so a group is never split between senders: exactly one of
them leases the group's rows, the other gets none, and every row is delivered exactly once.
Each sender is a thread with its own engine (its own connection), lined up by a Barrier.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import Connection, Engine, func, select, text

from healthmon.storage import alerts as store
from healthmon.storage.db import make_engine
from healthmon.storage.tables import DELIVERIES
from tests.alerting.test_groups import POLICY, T0, change, open_alerts, outbox_delivered
from tests.support.waiting import wait_until

TENANTS = ("t1", "t2", "t3", "t4", "t5")
GROUP, CHANNEL = "meta_ads|health", "webhook"
DUE = T0 + timedelta(seconds=POLICY.group_wait)


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    made = make_engine(pg_url)
    open_alerts(made, [change(t) for t in TENANTS], T0)
    yield made
    made.dispose()


def sender(url: str, barrier: threading.Barrier) -> tuple[list[int], list[int]]:
    """One sender: claim what is due, settle it as delivered. Returns (row ids claimed, ids settled)."""
    engine = make_engine(url, pool_size=1)
    try:
        # connected before the barrier, so both start at their first statement
        with engine.connect():
            pass
        barrier.wait()
        groups = store.claim_groups(engine, DUE, 60)
        claimed = [r.id for g in groups for r in g.rows]
        outcomes = [outbox_delivered(r.id, r.attempts) for g in groups for r in g.rows]
        store.settle(engine, outcomes, DUE)
        return claimed, [o.id for o in outcomes]
    finally:
        engine.dispose()


def race(url: str, meanwhile: Callable[[], None] = lambda: None) -> list[tuple[list[int], list[int]]]:
    """Two senders at once; `meanwhile` runs while they are under way."""
    barrier = threading.Barrier(2, timeout=60)
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(sender, url, barrier) for _ in range(2)]
        meanwhile()
        return [f.result(timeout=120) for f in futures]


def assert_one_took_the_group_and_all_delivered_once(
    engine: Engine, results: list[tuple[list[int], list[int]]]
) -> None:
    with engine.connect() as conn:
        found = conn.execute(
            select(DELIVERIES.c.id, DELIVERIES.c.status, DELIVERIES.c.attempts).order_by(DELIVERIES.c.id)
        ).all()
    every = [r.id for r in found]
    assert len(every) == len(TENANTS)
    claimed = sorted((c for c, _settled in results), key=len)
    # one sender has every row of the group, the other none: the group was not split
    assert claimed == [[], every]
    assert sorted(i for _c, settled in results for i in settled) == every
    # claimed once (each claim counts an attempt) and delivered
    assert {(r.status, r.attempts) for r in found} == {("delivered", 1)}
    assert store.claim_groups(engine, DUE + timedelta(hours=1), 60) == []


def test_two_senders_lined_up_by_a_barrier_claim_the_group_once(engine: Engine, pg_url: str) -> None:
    assert_one_took_the_group_and_all_delivered_once(engine, race(pg_url))


def _waiting_on_advisory_locks(conn: Connection) -> int:
    return int(
        conn.execute(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        ).scalar_one()
    )


def test_both_senders_waiting_on_the_group_lock_still_claim_it_once(engine: Engine, pg_url: str) -> None:
    """The lock held here until both senders wait on it: they truly contend for it, whatever
    the threads' timing, and the second one in sees the first one's lease."""
    with engine.connect() as holder:
        # the lock claim_groups takes for this group and channel, in a transaction held open
        holder.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"{GROUP}|{CHANNEL}"))))

        def both_wait() -> None:
            wait_until(lambda: _waiting_on_advisory_locks(holder) == 2, 60, "both senders on the lock", 0.02)
            holder.commit()  # releases the lock: the two go, one after the other

        results = race(pg_url, both_wait)
    assert_one_took_the_group_and_all_delivered_once(engine, results)
