"""Daily partitions of health_check_history on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Connection, Engine, text

from healthmon.storage.db import is_postgres

PARENT = "health_check_history"
DEFAULT_PARTITION = f"{PARENT}_default"


def partition_name(day: date) -> str:
    return f"{PARENT}_p{day:%Y%m%d}"


def existing_partitions(conn: Connection) -> dict[str, date]:
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :parent"
        ),
        {"parent": PARENT},
    ).scalars()
    found: dict[str, date] = {}
    for name in rows:
        suffix = name.removeprefix(f"{PARENT}_p")
        if suffix != name and suffix.isdigit():
            found[name] = datetime.strptime(suffix, "%Y%m%d").date()
    return found


def create_partition(conn: Connection, day: date) -> bool:
    """Create the day's partition; rows that already fell into the default move into it."""
    name = partition_name(day)
    if name in existing_partitions(conn):
        return False
    start = datetime.combine(day, time(), tzinfo=UTC)
    end = start + timedelta(days=1)
    bounds = {"start": start, "end": end}
    # ATTACH fails if the default partition holds rows of that range, so move them first.
    # Writers into the default wait until the commit (readers do not): a row of that day
    # written between the move and the ATTACH would make the ATTACH fail. ATTACH itself takes
    # only SHARE UPDATE EXCLUSIVE on the parent, so a writer holding the parent cannot deadlock.
    conn.execute(text(f"LOCK TABLE {DEFAULT_PARTITION} IN EXCLUSIVE MODE"))
    conn.execute(text(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
    conn.execute(
        text(
            f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} "
            "WHERE checked_at >= :start AND checked_at < :end RETURNING *) "
            f"INSERT INTO {name} SELECT * FROM moved"
        ),
        bounds,
    )
    conn.execute(
        text(
            f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM ('{start.isoformat()}') "
            f"TO ('{end.isoformat()}')"
        )
    )
    return True


def ensure_partitions(
    engine: Engine, today: date | None = None, days_ahead: int = 7, days_behind: int = 1
) -> list[str]:
    """Create missing partitions from `days_behind` before today to `days_ahead` after."""
    if not is_postgres(engine):
        return []
    today = today or datetime.now(UTC).date()
    created: list[str] = []
    with engine.begin() as conn:
        # one creator at a time: two processes starting together must not race on ATTACH
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('healthmon.partitions'))"))
        for offset in range(-days_behind, days_ahead + 1):
            day = today + timedelta(days=offset)
            if create_partition(conn, day):
                created.append(partition_name(day))
    return created
