"""Tenants (list, enable/disable, add) and silences (list, create, end)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import streamlit as st

from healthmon.alerting.silences import SilenceInputError, SilenceRequest, validate_silence
from healthmon.dashboard import context, frames
from healthmon.flows.tenant_input import TenantInputError, tenant_row
from healthmon.monitors.registry import MONITORS
from healthmon.monitors.tenant_settings import per_tenant_services
from healthmon.storage.alerts import add_silence, end_silence, list_silences
from healthmon.storage.tenants import TenantInfo, get_tenant, list_tenants, set_enabled, set_integration

#: the add-tenant form's fields, cleared together once a tenant is saved
ADD_PREFIX = "tenant_add_field_"
#: a silence of everything waiting for its confirmation: (request, ends)
CONFIRM_KEY = "silence_confirm"
#: the silence form's own names for the fields the shared validation names
SILENCE_FIELDS = {
    "service": "Service",
    "tenant": "Tenant",
    "everything": "Everything",
    "reason": "Reason",
    "created_by": "Signed in as",
}

st.title("🏷️ Tenants & silences")
rt = context.runtime()
tenants_tab, silences_tab = st.tabs(["Tenants", "Silences"])


#: the tenants table shows at most this many of the matches (the search finds the others): at
#: 10,000 tenants building and sending every row cost most of the page's run
TABLE_ROWS = 1000


def tenants_section(tenants: list[TenantInfo]) -> None:
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
        if len(table) > TABLE_ROWS:
            st.caption(
                f"{len(table):,} tenants match; the first {TABLE_ROWS:,} by id are listed, "
                "search for the others"
            )
            table = table.iloc[:TABLE_ROWS]
        context.table(
            table,
            hide_index=True,
            key="tenants_table",
            column_config={
                "enabled": st.column_config.CheckboxColumn(),
                "integrations": st.column_config.ListColumn(),
            },
            max_height=420,
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
    """Validated by flows.tenant_input.tenant_row, as `healthmon tenants add` and the API do;
    every problem is listed and nothing is written."""
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
    except TenantInputError as exc:
        for problem in exc.problems:
            st.error(f"Not saved — {problem}", icon="🚫")
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


def silences_section(tenants: list[TenantInfo]) -> None:
    at = context.now()
    rows = list_silences(rt.engine)
    live = [r for r in rows if frames.silence_state(r, at) in ("active", "scheduled", "recurring")]
    st.caption("While a silence holds, checks still run and alerts still open; notifications wait.")
    if not rows:
        st.info("No silences.")
    else:
        show_all = st.toggle("Show ended and expired", key="silences_all")
        shown = rows if show_all else live
        context.table(
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
    pending = st.session_state.get(CONFIRM_KEY)
    if pending is not None:
        confirm_everything(*pending)
        return
    tenant_ids = [t.id for t in tenants]
    with st.form("silence_add"):
        columns = st.columns(2)
        service = columns[0].selectbox("Service", context.services(), index=None, placeholder="any service")
        tenant = columns[1].selectbox("Tenant", tenant_ids, index=None, placeholder="any tenant")
        everything = st.checkbox(
            "Everything: every service of every tenant and the platform",
            help="instead of a service or a tenant; you are asked to confirm",
        )
        how = st.radio(
            "Ends",
            ["after", "at"],
            horizontal=True,
            format_func={"after": "after a duration", "at": "at a time (UTC)"}.get,
        )
        timing = st.columns(2)
        minutes = timing[0].number_input("Duration (minutes)", min_value=1, value=60, step=15)
        until = timing[1].datetime_input("End (UTC)", value=None, step=timedelta(minutes=15))
        reason = st.text_input(
            "Reason", placeholder="required, e.g. Shopify maintenance window", max_chars=500
        )
        st.caption(f"Recorded as made by **{context.plain(context.who())}**, with this reason.")
        added = st.form_submit_button("Create silence", type="primary")
    if added:
        create_silence(service, tenant, everything, how or "after", int(minutes or 0), until, reason or "")


def _ends(how: str, minutes: int, until: datetime | None, starts: datetime) -> datetime | None:
    if how != "at":
        return starts + timedelta(minutes=minutes)
    if until is None:
        st.error("Not created — End (UTC): pick when the silence ends", icon="🚫")
        return None
    # the picker gives a naive time; the form says UTC
    ends = until.replace(tzinfo=UTC) if until.tzinfo is None else until
    if ends <= starts:
        st.error("Not created — End (UTC): must be in the future", icon="🚫")
        return None
    return ends


def create_silence(
    service: str | None,
    tenant: str | None,
    everything: bool,
    how: str,
    minutes: int,
    until: datetime | None,
    reason: str,
) -> None:
    """Validated by alerting.silences.validate_silence, as the CLI and the API do; a silence of
    everything is only stored once confirmed."""
    try:
        request = validate_silence(
            service=service,
            tenant=tenant,
            everything=everything,
            reason=reason,
            created_by=context.who(),
            tenant_exists=lambda t: get_tenant(rt.engine, t) is not None,
            fields=SILENCE_FIELDS,
        )
    except SilenceInputError as exc:
        for field, message in exc.problems:
            st.error(f"Not created — {field}: {message}", icon="🚫")
        return
    ends = _ends(how, minutes, until, context.now())
    if ends is None:
        return
    if request.everything:
        st.session_state[CONFIRM_KEY] = (request, ends)
        st.rerun()
    store_silence(request, ends)


def confirm_everything(request: SilenceRequest, ends: datetime) -> None:
    st.warning(
        f"Silence **everything** until {ends:%Y-%m-%d %H:%M} UTC? No notification of any service, "
        "tenant or the platform is sent while it holds (checks still run and alerts still open). "
        f"Reason: {context.plain(request.reason)}",
        icon="⚠️",
    )
    with st.container(horizontal=True):
        confirmed = st.button("Silence everything", key="silence_confirm_yes", type="primary")
        cancelled = st.button("Cancel", key="silence_confirm_no")
    if cancelled:
        del st.session_state[CONFIRM_KEY]
        context.flash("No silence created.", "info")
        st.rerun()
    if confirmed:
        del st.session_state[CONFIRM_KEY]
        if ends <= context.now():
            context.flash("Not created — End (UTC): passed while waiting for the confirmation", "error")
            st.rerun()
        store_silence(request, ends)


def store_silence(request: SilenceRequest, ends: datetime) -> None:
    silence_id = add_silence(
        rt.engine,
        service=request.service,
        tenant_id=request.tenant_id,
        starts_at=context.now(),
        ends_at=ends,
        reason=request.reason,
        created_by=request.created_by,
    )
    if request.everything:
        scope = "everything"
    else:
        scope = " · ".join(
            [
                request.service or "all services",
                f"tenant {request.tenant_id}" if request.tenant_id else "all tenants",
            ]
        )
    context.flash(f"Silence #{silence_id} ({scope}) until {ends:%Y-%m-%d %H:%M} UTC by {request.created_by}.")
    st.rerun()


with context.guarded():
    # once per run for both tabs (10,000 tenants are a tenth of a second to read)
    every = list_tenants(rt.engine)
    with tenants_tab:
        tenants_section(every)
    with silences_tab:
        silences_section(every)
