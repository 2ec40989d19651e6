"""Engines for healthmon's own store: PostgreSQL in production, SQLite embedded."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ARRAY, Connection, Engine, String, any_, create_engine, event, literal, text
from sqlalchemy.engine import make_url

from healthmon.monitors import json_codec


def normalize_url(url: str) -> str:
    """Accept plain libpq-style URLs and pick the psycopg 3 driver for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def ids_filter(engine: Engine, column: Any, ids: list[str]) -> Any:
    """`column IN ids`; on PostgreSQL one array parameter (`= ANY`): a batch's 1,000 ids as
    1,000 bound parameters cost more client CPU to render and send than the query's rows."""
    if is_postgres(engine):
        return column == any_(literal(ids, ARRAY(String)))
    return column.in_(ids)


def make_engine(url: str, pool_size: int = 5) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args={"connect_timeout": 10, "application_name": "healthmon"},
        # jsonb read through orjson: reading 10,000 tenants' integrations spent most of its
        # time in the standard library's decoder (docs/performance.md)
        json_deserializer=json_codec.loads,
    )


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the dashboard read while a tier run writes; foreign keys are off by default.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


#: how far a result's checked_at may be ahead of the store's clock and still be taken as given.
#: A check stamps its result before it is recorded, so with synchronised clocks checked_at is
#: never ahead. NTP keeps hosts well within a second of each other; 5 s is far below the
#: shortest tier interval (60 s), so a result up to 5 s ahead is still older than the next one.
MAX_CLOCK_SKEW_S = 5.0


def store_now(conn: Connection) -> datetime:
    """The store's clock, the reference for every checked_at: PostgreSQL's transaction time
    (one round trip); SQLite runs inside this process, so the process clock."""
    if conn.dialect.name == "postgresql":
        value: datetime = conn.execute(text("SELECT now()")).scalar_one()
        return value.astimezone(UTC)
    return datetime.now(UTC)
