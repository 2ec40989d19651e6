"""Tenants and their per-integration credentials (encrypted with storage.crypto.Cipher)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from healthmon.monitors.registry import MONITORS
from healthmon.storage.crypto import Cipher
from healthmon.storage.db import ids_filter, is_postgres
from healthmon.storage.tables import TENANTS


@dataclass(frozen=True)
class IntegrationInput:
    """One integration of a tenant: public settings in plain text, secrets to be encrypted."""

    public: Mapping[str, Any] = field(default_factory=dict)
    secret: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TenantInfo:
    id: str
    name: str
    enabled: bool
    integrations: dict[str, dict[str, Any]]


def upsert_tenants(
    engine: Engine, cipher: Cipher, tenants: Iterable[tuple[str, str, bool, Mapping[str, IntegrationInput]]]
) -> int:
    """Insert or replace tenants in one statement. Returns how many were written."""
    now = datetime.now(UTC)
    rows = []
    for tenant_id, name, enabled, integrations in tenants:
        rows.append(
            {
                "id": tenant_id,
                "name": name,
                "enabled": enabled,
                "integrations": {k: dict(v.public) for k, v in integrations.items()},
                "credentials": {k: cipher.encrypt(v.secret) for k, v in integrations.items() if v.secret},
                "created_at": now,
                "updated_at": now,
            }
        )
    if not rows:
        return 0
    table = TENANTS
    insert = pg_insert(table) if is_postgres(engine) else sqlite_insert(table)
    stmt = insert.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={
            c: insert.excluded[c] for c in ("name", "enabled", "integrations", "credentials", "updated_at")
        },
    )
    with engine.begin() as conn:
        conn.execute(stmt, rows)
    return len(rows)


def list_tenants(engine: Engine, enabled_only: bool = False) -> list[TenantInfo]:
    table = TENANTS
    stmt = select(table.c.id, table.c.name, table.c.enabled, table.c.integrations).order_by(table.c.id)
    if enabled_only:
        stmt = stmt.where(table.c.enabled.is_(True))
    with engine.connect() as conn:
        return [
            TenantInfo(r.id, r.name, bool(r.enabled), dict(r.integrations or {})) for r in conn.execute(stmt)
        ]


def tenants_with(engine: Engine, integration: str) -> list[str]:
    """Ids of enabled tenants that have this integration configured, in id order."""
    if not is_postgres(engine):
        return [t.id for t in list_tenants(engine, enabled_only=True) if integration in t.integrations]
    # the key test in the server (jsonb `?`): the planner asks this every run, and decoding
    # every tenant's integrations to look for one key cost more than the rest of the plan
    table = TENANTS
    stmt = (
        select(table.c.id)
        .where(table.c.enabled.is_(True), table.c.integrations.op("?")(integration))
        .order_by(table.c.id)
    )
    with engine.connect() as conn:
        return list(conn.execute(stmt).scalars())


def expected_targets(engine: Engine, services: Iterable[str]) -> list[tuple[str, str | None]]:
    """(service, tenant) pairs that should have a fresh result: a platform service once, a
    per-tenant one for every enabled tenant with that integration."""
    chosen = list(services)
    tenants = list_tenants(engine, enabled_only=True) if any(MONITORS[s].per_tenant for s in chosen) else []
    return targets_of(tenants, chosen)


def targets_of(tenants: Iterable[TenantInfo], services: Iterable[str]) -> list[tuple[str, str | None]]:
    """`expected_targets` over tenants already read (disabled ones are left out here)."""
    enabled = [t for t in tenants if t.enabled]
    targets: list[tuple[str, str | None]] = []
    for service in services:
        if MONITORS[service].per_tenant:
            targets += [(service, t.id) for t in enabled if service in t.integrations]
        else:
            targets.append((service, None))
    return targets


def set_enabled(engine: Engine, tenant_id: str, enabled: bool) -> bool:
    """Enable or disable a tenant (a disabled tenant is not checked); False if there is none."""
    table = TENANTS
    stmt = update(table).where(table.c.id == tenant_id).values(enabled=enabled, updated_at=datetime.now(UTC))
    with engine.begin() as conn:
        return conn.execute(stmt).rowcount > 0


def get_tenant(engine: Engine, tenant_id: str) -> TenantInfo | None:
    table = TENANTS
    columns = (table.c.id, table.c.name, table.c.enabled, table.c.integrations)
    stmt = select(*columns).where(table.c.id == tenant_id)
    with engine.connect() as conn:
        row = conn.execute(stmt).first()
    return TenantInfo(row.id, row.name, bool(row.enabled), dict(row.integrations or {})) if row else None


def has_name(tenant_id: str, name: str | None) -> bool:
    """A tenant stored without a display name keeps its id in `name` (the column is NOT NULL),
    so a name equal to the id is no name."""
    return bool(name) and name != tenant_id


#: past this many ids, display_names reads the whole table (measured crossover: ~100 ids)
_SCAN_ABOVE = 100


def display_names(engine: Engine, ids: Iterable[str | None]) -> dict[str, str]:
    """id -> display name for those of `ids` that have one (one query); a tenant without a
    name, unknown, or None (the platform) is left out, and is shown by its id alone."""
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    table = TENANTS
    names: dict[str, str] = {}
    with engine.connect() as conn:
        if len(wanted) > _SCAN_ABOVE:
            # many ids (the matrix: every tenant): one narrow read of the table is cheaper than
            # bound lists of hundreds of ids (1,000 ids: ~4x on PostgreSQL, ~2x on SQLite)
            keep = set(wanted)
            rows = conn.execute(select(table.c.id, table.c.name))
            return {r.id: r.name for r in rows if r.id in keep and has_name(r.id, r.name)}
        # in chunks: a bound list of 1,000s of ids exceeds SQLite's parameter limit
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            stmt = select(table.c.id, table.c.name).where(table.c.id.in_(chunk))
            names |= {r.id: r.name for r in conn.execute(stmt) if has_name(r.id, r.name)}
    return names


def label(tenant_id: str, names: Mapping[str, str]) -> str:
    """The tenant as people read it: "Acme Shop (tenant-0003)", or the id alone without a name."""
    name = names.get(tenant_id)
    return f"{name} ({tenant_id})" if name and name != tenant_id else tenant_id


def remove_tenant(engine: Engine, tenant_id: str) -> bool:
    table = TENANTS
    with engine.begin() as conn:
        return conn.execute(delete(table).where(table.c.id == tenant_id)).rowcount > 0


def load_integration(
    engine: Engine, cipher: Cipher, integration: str, tenant_ids: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """Public settings merged with decrypted secrets, per tenant id. Call inside the task only.

    A token this process already decrypted is not decrypted again (`Cipher.decrypt_cached`):
    the row's ciphertext is the key, so a credential changed since is read anew."""
    table = TENANTS
    ids = list(tenant_ids)
    # only this integration's part of each JSON column: a tenant may have many integrations
    public_col = table.c.integrations[integration].label("public")
    token_col = table.c.credentials[integration].as_string().label("token")
    stmt = select(table.c.id, public_col, token_col).where(ids_filter(engine, table.c.id, ids))
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    loaded: dict[str, dict[str, Any]] = {}
    for tenant_id, public, token in rows:
        if not isinstance(public, dict):
            continue
        loaded[tenant_id] = {**public, **cipher.decrypt_cached(token)} if token else public
    return loaded


def set_integration(
    engine: Engine,
    cipher: Cipher,
    tenant_id: str,
    name: str | None,
    enabled: bool,
    integration: tuple[str, IntegrationInput] | None,
) -> None:
    """Create the tenant or update it, replacing only the one integration given."""
    table = TENANTS
    now = datetime.now(UTC)
    with engine.begin() as conn:
        row = conn.execute(select(table).where(table.c.id == tenant_id).with_for_update()).mappings().first()
        integrations = dict(row["integrations"]) if row else {}
        credentials = dict(row["credentials"]) if row else {}
        if integration is not None:
            service, value = integration
            integrations[service] = dict(value.public)
            credentials.pop(service, None)
            if value.secret:
                credentials[service] = cipher.encrypt(value.secret)
        values = {
            "name": name or (row["name"] if row else tenant_id),
            "enabled": enabled,
            "integrations": integrations,
            "credentials": credentials,
            "updated_at": now,
        }
        if row is None:
            conn.execute(table.insert().values(id=tenant_id, created_at=now, **values))
        else:
            conn.execute(table.update().where(table.c.id == tenant_id).values(**values))
