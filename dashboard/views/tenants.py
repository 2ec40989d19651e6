"""Tenants (list, enable/disable, add) and silences (list, create, end)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import streamlit as st

from config import ConfigError
from dashboard import context, frames
from deployments.tenant_input import TENANT_ID, tenant_row
from monitors.registry import MONITORS
from monitors.tenant_settings import per_tenant_services
from storage.alerts import add_silence, end_silence, list_silences
from storage.tenants import get_tenant, list_tenants, set_enabled, set_integration

#: the add-tenant form's fields, cleared together once a tenant is saved
ADD_PREFIX = "tenant_add_field_"

st.title("🏷️ Tenants & silences")
rt = context.runtime()
tenants_tab, silences_tab = st.tabs(["Tenants", "Silences"])


def tenants_section() -> None:
    tenants = list_tenants(rt.engine)
    enabled = sum(1 for t in tenants if t.enabled)
    counters = st.columns(3)
    counters[0].metric("Tenants", len(tenants), border=True)
    counters[1].metric("Enabled", enabled, border=True)
    counters[2].metric("Disabled", len(tenants) - enabled, border=True)
    if not tenants:
        st.info("No tenants yet: add one below, or `healthmon tenants import FILE`.")
    else:
        search = (
            (st.text_input("Search", key="tenants_search", placeholder="id or name") or "").strip().lower()
        )
        table = frames.tenants_table(tenants, lambda text: not search or search in text.lower())
        st.dataframe(
            table,
            hide_index=True,
            key="tenants_table",
            column_config={
                "enabled": st.column_config.CheckboxColumn(),
                "integrations": st.column_config.ListColumn(),
            },
            height=min(38 + 35 * len(table), 420),
        )

        st.subheader("Enable or disable")
        with st.container(horizontal=True, vertical_alignment="bottom"):
            picked = st.selectbox(
                "Tenant",
                [t.id for t in tenants],
                index=None,
                key="tenants_toggle_pick",
                placeholder="pick a tenant",
            )
            current = next((t for t in tenants if t.id == picked), None)
            if current is not None:
                verb = "Disable" if current.enabled else "Enable"
                if st.button(f"{verb} {current.id}", key="tenants_toggle"):
                    set_enabled(rt.engine, current.id, not current.enabled)
                    state = "disabled: it is no longer checked" if current.enabled else "enabled"
                    context.flash(f"Tenant {current.id} {state}.")
                    st.rerun()
        st.caption("A disabled tenant keeps its settings and history; its integrations are not checked.")

    st.subheader("Add a tenant or an integration")
    st.caption("An existing tenant keeps its other integrations; the one given here is added or replaced.")
    integration = st.selectbox(
        "Integration", per_tenant_services(), index=None, key="tenant_add_integration", placeholder="none yet"
    )
    with st.form(f"tenant_add_{integration}"):
        columns = st.columns(2)
        tenant_id = columns[0].text_input(
            "Id", placeholder="lowercase, e.g. acme", max_chars=64, key=f"{ADD_PREFIX}id"
        )
        name = columns[1].text_input(
            "Name", placeholder="display name (default: the id)", key=f"{ADD_PREFIX}name"
        )
        values: dict[str, str] = {}
        if integration is not None:
            monitor = MONITORS[integration]
            for key in monitor.tenant_public_keys:
                values[key] = st.text_input(key, key=f"{ADD_PREFIX}{integration}_{key}") or ""
            for key in monitor.tenant_secret_keys:
                values[key] = (
                    st.text_input(
                        key, type="password", key=f"{ADD_PREFIX}{integration}_{key}", help="stored encrypted"
                    )
                    or ""
                )
        checked = st.checkbox("Enabled (checked on schedule)", value=True)
        added = st.form_submit_button("Save tenant", type="primary")
    if added:
        save_tenant(tenant_id or "", name or "", integration, values, checked)


def save_tenant(
    tenant_id: str, name: str, integration: str | None, values: dict[str, str], enabled: bool
) -> None:
    """Validated exactly as `healthmon tenants add` validates it; nothing is written on a problem."""
    if rt.cipher is None:
        st.error("HEALTHMON_SECRET_KEY: not set; tenant credentials are encrypted with it")
        return
    settings = {k: v.strip() for k, v in values.items() if v.strip()}
    raw: dict[str, Any] = {
        "id": tenant_id.strip(),
        "name": name.strip() or None,
        "integrations": {integration: settings} if integration else {},
    }
    try:
        row = tenant_row(raw, "tenant")
    except ConfigError as exc:
        st.error(f"Not saved — {exc}", icon="🚫")
        return
    existed = get_tenant(rt.engine, row[0]) is not None
    set_integration(
        rt.engine, rt.cipher, row[0], name.strip() or None, enabled, next(iter(row[3].items()), None)
    )
    # an empty form for the next tenant; and a secret must not linger in the session
    for key in [k for k in st.session_state if str(k).startswith(ADD_PREFIX)]:
        del st.session_state[key]
    what = f" with {integration}" if integration else ""
    context.flash(f"Tenant {row[0]} {'updated' if existed else 'added'}{what}.")
    st.rerun()


def silences_section() -> None:
    at = context.now()
    rows = list_silences(rt.engine)
    live = [r for r in rows if frames.silence_state(r, at) in ("active", "scheduled", "recurring")]
    st.caption("While a silence holds, checks still run and alerts still open; notifications wait.")
    if not rows:
        st.info("No silences.")
    else:
        show_all = st.toggle("Show ended and expired", key="silences_all")
        shown = rows if show_all else live
        st.dataframe(
            frames.silences_table(shown, at),
            hide_index=True,
            key="silences_table",
            column_config={
                "starts": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
                "ends": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
                "ended": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            },
        )
        if live:
            with st.container(horizontal=True, vertical_alignment="bottom"):
                titles = {
                    r[
                        "id"
                    ]: f"#{r['id']} {r['service'] or 'all services'} · {r['tenant_id'] or 'all tenants'}"
                    for r in live
                }
                picked = st.selectbox(
                    "Silence",
                    list(titles),
                    index=None,
                    key="silence_end_pick",
                    format_func=titles.__getitem__,
                    placeholder="pick one to end",
                )
                if (
                    st.button("End silence", key="silence_end", disabled=picked is None)
                    and picked is not None
                ):
                    ended = end_silence(rt.engine, picked, context.now())
                    context.flash(
                        f"Silence #{picked} ended." if ended else f"Silence #{picked} had already ended."
                    )
                    st.rerun()

    st.subheader("New silence")
    with st.form("silence_add"):
        columns = st.columns(2)
        service = columns[0].selectbox("Service", context.services(), index=None, placeholder="all services")
        tenant = columns[1].text_input("Tenant", placeholder="all tenants (and the platform)")
        how = st.radio(
            "Ends",
            ["after", "at"],
            horizontal=True,
            format_func={"after": "after a duration", "at": "at a time (UTC)"}.get,
        )
        timing = st.columns(2)
        minutes = timing[0].number_input("Duration (minutes)", min_value=1, value=60, step=15)
        until = timing[1].datetime_input("End (UTC)", value=None, step=timedelta(minutes=15))
        reason = st.text_input("Reason", placeholder="e.g. Shopify maintenance window", max_chars=500)
        added = st.form_submit_button("Create silence", type="primary")
    if added:
        create_silence(
            service, (tenant or "").strip() or None, how or "after", int(minutes or 0), until, reason or ""
        )


def create_silence(
    service: str | None, tenant: str | None, how: str, minutes: int, until: datetime | None, reason: str
) -> None:
    if tenant is not None and not TENANT_ID.fullmatch(tenant):
        st.error("tenant: must be 1-64 lowercase letters, digits, '-' or '_'", icon="🚫")
        return
    starts = context.now()
    if how == "at":
        if until is None:
            st.error("end: pick when the silence ends", icon="🚫")
            return
        # the picker gives a naive time; the form says UTC
        ends = until.replace(tzinfo=UTC) if until.tzinfo is None else until
    else:
        ends = starts + timedelta(minutes=minutes)
    try:
        silence_id = add_silence(
            rt.engine,
            service=service,
            tenant_id=tenant,
            starts_at=starts,
            ends_at=ends,
            reason=reason.strip(),
            created_by=context.who(),
        )
    except ValueError as exc:
        message = str(exc).replace("ends_at: must be after starts_at", "end: must be in the future")
        st.error(f"Not created — {message}", icon="🚫")
        return
    scope = " · ".join(
        filter(None, [service or "all services", f"tenant {tenant}" if tenant else "all tenants"])
    )
    context.flash(f"Silence #{silence_id} ({scope}) until {ends:%Y-%m-%d %H:%M} UTC.")
    st.rerun()


with tenants_tab, context.guarded():
    tenants_section()
with silences_tab, context.guarded():
    silences_section()
