"""record_results with a `once_key`: two recorders of one batch of one run (a Dask worker late
past the tier's deadline and the flow process recording the batch as lost) take turns, and
whichever comes second leaves out the targets the first recorded."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from healthmon.monitors.result import CheckResult, Status, Tier
from healthmon.storage.db import make_engine
from healthmon.storage.migrate import upgrade
from healthmon.storage.results import record_results
from tests.support.waiting import wait_until

AT = datetime.now(UTC).replace(microsecond=0)
KEY = "run-once/shopify/1"


def results(status: Status, tenants: range) -> list[CheckResult]:
    return [CheckResult("shopify", f"t-{n}", Tier.CORE, status, 10.0, {}, AT) for n in tenants]


def history_of(engine: Engine, run_id: str) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT tenant_id, status FROM health_check_history WHERE run_id = :r"), {"r": run_id}
        )
        found: dict[str, str] = {}
        for tenant, status in rows:
            assert tenant not in found, f"{tenant} recorded twice"
            found[tenant] = status
        return found


@pytest.mark.parametrize("store", ["postgresql", "sqlite"])
def test_the_second_recorder_of_a_batch_leaves_out_what_the_first_recorded(
    store: str, pg_url: str, tmp_path: Path
) -> None:
    engine = make_engine(pg_url if store == "postgresql" else f"sqlite:///{tmp_path}/once.db")
    if store == "sqlite":
        upgrade(engine)
    # the flow process records targets 0-2 lost; then the late worker records all five
    lost = record_results(engine, results(Status.UNKNOWN, range(3)), "run-once", once_key=KEY)
    late = record_results(engine, results(Status.HEALTHY, range(5)), "run-once", once_key=KEY)
    assert (len(lost), [r.tenant_id for r in late]) == (3, ["t-3", "t-4"])
    assert history_of(engine, "run-once") == {
        "t-0": "unknown", "t-1": "unknown", "t-2": "unknown", "t-3": "healthy", "t-4": "healthy",
    }  # fmt: skip
    # everything recorded already: nothing is written, not even a latest-status row
    assert record_results(engine, results(Status.UNHEALTHY, range(5)), "run-once", once_key=KEY) == []
    # another run, or no key: recorded as always
    assert len(record_results(engine, results(Status.HEALTHY, range(5)), "run-twice", once_key=KEY)) == 5
    assert len(record_results(engine, results(Status.HEALTHY, range(2)), "run-once")) == 2


def test_recorders_of_one_key_take_turns_on_postgresql(pg_url: str) -> None:
    """While one recorder of the key is in its transaction, another waits for it (and then
    sees what it recorded): the check and the write are one step."""
    engine = make_engine(pg_url)
    holder = engine.connect()
    holder.begin()
    holder.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": KEY})
    written: list[int] = []
    second = threading.Thread(
        target=lambda: written.append(
            len(record_results(engine, results(Status.HEALTHY, range(4)), "run-turns", once_key=KEY))
        )
    )
    second.start()

    def waiting_for_the_key() -> bool:
        with engine.connect() as conn:
            return bool(
                conn.execute(
                    text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
                ).scalar_one()
            )

    wait_until(waiting_for_the_key, 30, "the second recorder to wait for the key")
    assert not written
    # the first recorder marks two of the targets recorded by the run, then ends its transaction
    holder.execute(
        text(
            "INSERT INTO service_status (service, tenant_id, tier, status, latency_ms, details, "
            "checked_at, since, consecutive, run_id) SELECT 'shopify', t, 'core', 'unknown', NULL, "
            "'{}'::jsonb, now(), now(), 1, 'run-turns' FROM unnest(ARRAY['t-0', 't-1']) AS t "
            "ON CONFLICT (service, tenant_id) DO UPDATE SET run_id = 'run-turns'"
        )
    )
    holder.commit()
    holder.close()
    second.join(30)
    assert written == [2]
