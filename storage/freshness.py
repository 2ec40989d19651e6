"""Which latest results are old: what the watchdog holds against each tier's interval."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select

from healthmon.storage.tables import ServiceStatus
from healthmon.storage.types import tenant_from_key


def older_than(engine: Engine, tier: str, cutoff: datetime) -> dict[tuple[str, str | None], datetime]:
    """(service, tenant) -> checked_at of every latest result of the tier checked before cutoff."""
    table = ServiceStatus.__table__  # type: ignore[attr-defined]
    stmt = select(table.c.service, table.c.tenant_id, table.c.checked_at).where(
        table.c.tier == tier, table.c.checked_at < cutoff
    )
    with engine.connect() as conn:
        return {(service, tenant_from_key(key)): at for service, key, at in conn.execute(stmt)}
