"""Alerts: live ones as groups to acknowledge or resolve many at once; filter, read, acknowledge
or resolve one with a note, and see where each notice went."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from healthmon.dashboard import context, frames, status_style
from healthmon.flows import alerts as flow_alerts
from healthmon.storage import alerts as store
from healthmon.storage.tenants import display_names
from healthmon.storage.tenants import label as tenant_label

STATES = ("open", "acknowledged", "resolved")
SEVERITIES = ("p1", "p2", "p3")
SELECTED_KEY = "alerts_selected"
CLICK_KEY = "alerts_last_click"
#: the `?alert=` link last followed
LINK_KEY = "alerts_link_followed"
MAX_ALERT_ID = 2**31 - 1
#: live alerts grouped at most (a group per tenant of 1,000 fits)
GROUP_LIMIT = 5000


def named(frame: pd.DataFrame, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The frame's tenant column as "Acme Shop (tenant-0003)" for tenants with a display name
    (one query for the rows shown); the frame has one row per alert, in the order of `rows`."""
    names = display_names(context.runtime().engine, [r["tenant_id"] for r in rows])
    if names:
        frame["tenant"] = [
            tenant_label(r["tenant_id"], names) if r["tenant_id"] else shown
            for r, shown in zip(rows, frame["tenant"], strict=True)
        ]
    return frame


st.title("🚨 Alerts")

with st.container(horizontal=True, vertical_alignment="bottom"):
    states = st.multiselect(
        "State",
        list(STATES),
        default=["open", "acknowledged"],
        key="alerts_states",
        format_func=status_style.alert_status_label,
        placeholder="any state",
    )
    severities = st.multiselect(
        "Severity",
        list(SEVERITIES),
        key="alerts_severities",
        format_func=status_style.severity_label,
        placeholder="any",
    )
    service = st.selectbox(
        "Service", context.services(), index=None, key="alerts_service", placeholder="any service"
    )
    tenant = st.text_input("Tenant", key="alerts_tenant", placeholder="tenant id")


def fetch(states: list[str], severities: list[str], service: str | None, tenant: str) -> list[dict[str, Any]]:
    rt = context.runtime()
    return store.list_alerts(
        rt.engine,
        states or None,
        500,
        severity=severities or None,
        service=service,
        tenant_id=tenant.strip() or None,
    )


@st.fragment(run_every=context.LIVE_EVERY_S)
def live_list(states: list[str], severities: list[str], service: str | None, tenant: str) -> None:
    with context.guarded():
        rows = fetch(states, severities, service, tenant)
        by_state = {s: sum(1 for r in rows if r["status"] == s) for s in STATES}
        columns = st.columns(len(STATES) + 1)
        for column, state in zip(columns, STATES, strict=False):
            column.metric(status_style.alert_status_label(state), by_state[state], border=True)
        columns[-1].metric("p1", sum(1 for r in rows if r["severity"] == "p1"), border=True)
        if not rows:
            st.success("No alert matches the filters.", icon="🌤️")
            return
        # keyed by the rows shown: when the list changes, an old selection must not point at the
        # alert that moved into its row
        table_key = "alerts_table_" + hashlib.sha1(repr([r["id"] for r in rows]).encode()).hexdigest()[:12]
        event = context.table(
            named(frames.alerts_table(rows), rows),
            hide_index=True,
            on_select="rerun",
            selection_mode="single-row",
            key=table_key,
            column_config={
                "id": st.column_config.NumberColumn(width="small"),
                "title": st.column_config.TextColumn(width="large"),
                "first seen": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
                "last seen": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            },
        )
        picked = event.selection.get("rows") or []
        click = (table_key, picked[0]) if picked and 0 <= picked[0] < len(rows) else None
        # only a new click picks an alert: a selection that stays must not undo a later pick below
        if click is not None and st.session_state.get(CLICK_KEY) != click:
            st.session_state[CLICK_KEY] = click
            st.session_state[SELECTED_KEY] = rows[click[1]]["id"]
            # the action form lives outside this fragment: it must see the new choice
            st.rerun(scope="app")
        st.caption(f"Updated {context.now():%H:%M:%S} UTC · counts are of the alerts listed · click a row")


def follow_links() -> str | None:
    """`?alert=<id>` (a notification's link) opens that alert below, once: a later pick must
    not be undone by the link still in the address. Returns the `?group=` of the link."""
    linked = st.query_params.get("alert")
    if linked and st.session_state.get(LINK_KEY) != linked:
        st.session_state[LINK_KEY] = linked
        if linked.isdigit() and 0 < int(linked) <= MAX_ALERT_ID:
            st.session_state[SELECTED_KEY] = int(linked)
        else:
            context.flash(f"The link names no alert ({context.plain(linked)}).", "error")
    return st.query_params.get("group") or None


def change_group_members(group: frames.AlertGroup, picked: list[int], note: str, acknowledge: bool) -> None:
    rt = context.runtime()
    change = flow_alerts.acknowledge_many if acknowledge else flow_alerts.resolve_many
    done = change(rt, picked, context.who(), note.strip() or None, context.now())
    verb = "acknowledged" if acknowledge else "resolved"
    with st.spinner("Telling the channels…"):
        sent = context.send_now(rt, done.notices)
    message = f"{len(done.changed)} alerts of {group.label} {verb} by {context.who()}."
    if done.unchanged:
        message += f" {len(done.unchanged)} unchanged (already {verb} or resolved)."
    if done.not_found:
        message += f" {len(done.not_found)} no longer exist."
    context.flash(message + (f" {sent}." if sent else ""))
    st.rerun()


def group_section(group: frames.AlertGroup, expanded: bool) -> None:
    # drawn only while open (on_change="rerun"): a page of closed groups was a table and a form
    # per group for the browser to lay out. The label (the group's counts) is part of the
    # expander's identity: an open group stays open when acting on it changes them
    kept_open = f"group_kept_open_{group.key}"
    box = st.expander(
        f"**{group.label}** — {context.plain(group.summary())}",
        expanded=expanded or bool(st.session_state.get(kept_open)),
        key=f"group_open_{group.key}",
        on_change="rerun",
    )
    st.session_state[kept_open] = box.open
    if not box.open:
        return
    with box:
        context.table(
            named(frames.group_table(group.alerts), group.alerts),
            hide_index=True,
            key=f"group_table_{group.key}",
            column_config={
                "first seen": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
                "last seen": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            },
        )
        names = display_names(context.runtime().engine, [a["tenant_id"] for a in group.alerts])
        tenants = {
            a["id"]: tenant_label(a["tenant_id"], names) if a["tenant_id"] else "platform"
            for a in group.alerts
        }
        with st.form(f"group_form_{group.key}", clear_on_submit=True):
            picked = st.multiselect(
                "Alerts to change",
                list(tenants),
                default=list(tenants),
                format_func=lambda i: f"#{i} {tenants[i]}",
                key=f"group_pick_{group.key}",
                help="every alert of the group at first; remove the ones to leave as they are",
            )
            note = st.text_input(
                "Note for these alerts",
                max_chars=1000,
                key=f"group_note_{group.key}",
                placeholder="what you found or did (kept on each alert)",
            )
            buttons = st.columns(2)
            ack = buttons[0].form_submit_button(
                "Acknowledge selected", type="primary", width="stretch", key=f"group_ack_{group.key}"
            )
            resolve = buttons[1].form_submit_button(
                "Resolve selected", width="stretch", key=f"group_resolve_{group.key}"
            )
        if (ack or resolve) and picked:
            change_group_members(group, picked, note or "", acknowledge=ack)
        elif ack or resolve:
            st.warning("Pick at least one alert of the group.")


def groups_view(severities: list[str], service: str | None, tenant: str, linked_group: str | None) -> None:
    """The live alerts as groups (one service and condition across tenants), each expandable
    to its alerts, to acknowledge or resolve many of them with one note."""
    rt = context.runtime()
    live = store.list_alerts(
        rt.engine,
        ["open", "acknowledged"],
        GROUP_LIMIT,
        severity=severities or None,
        service=service,
        tenant_id=tenant.strip() or None,
    )
    groups = frames.alert_groups(live)
    if linked_group is not None:
        groups = [g for g in groups if g.key == linked_group]
        st.caption(f"Showing the group {context.plain(frames.group_label(linked_group))} from the link only.")
    st.subheader(f"Groups ({len(groups)})")
    if not groups:
        st.caption("No live alert (open or acknowledged) matches the filters.")
        return
    for group in groups:
        group_section(group, expanded=linked_group is not None or len(groups) == 1)
    if len(live) == GROUP_LIMIT:
        st.caption(f"Only the newest {GROUP_LIMIT:,} live alerts are grouped: narrow the filters.")


with context.guarded():
    groups_view(severities, service, tenant or "", follow_links())

st.subheader("All alerts")
live_list(states, severities, service, tenant or "")

st.divider()
with context.guarded():
    rt = context.runtime()
    rows = fetch(states, severities, service, tenant or "")
    ids = [r["id"] for r in rows]
    chosen = st.session_state.get(SELECTED_KEY)
    if chosen is not None and chosen not in ids:
        ids.insert(0, chosen)  # keep the alert just acted on in view, even if it now leaves the filter
    # filtered down to one alert: show it, ready to act on (without making it the choice)
    shown = chosen if chosen is not None else (ids[0] if len(ids) == 1 else None)
    titles = {r["id"]: r["title"] for r in rows}
    alert_id = st.selectbox(
        "Alert",
        ids,
        index=ids.index(shown) if shown in ids else None,
        format_func=lambda i: f"#{i} {titles.get(i, '')}".strip(),
        placeholder="pick an alert to acknowledge, resolve or inspect",
        key=f"alerts_pick_{shown}",
    )
    if alert_id != shown:
        st.session_state[SELECTED_KEY] = alert_id
    alert = store.get_alert(rt.engine, alert_id) if alert_id is not None else None
    if alert_id is not None and alert is None:
        st.warning(f"Alert #{alert_id} no longer exists.")
    if alert is not None:
        st.subheader(f"#{alert['id']} {alert['title']}")
        columns = st.columns(4)
        columns[0].metric("State", status_style.alert_status_label(alert["status"]), border=True)
        columns[1].metric("Severity", status_style.severity_label(alert["severity"]), border=True)
        columns[2].metric("Times seen", alert["count"], border=True)
        columns[3].metric("Last seen", context.ago(alert["last_seen"]), border=True)
        facts = []
        # names and notes are typed by people: shown as text, never as markdown
        if alert.get("acknowledged_by"):
            at = alert["acknowledged_at"]
            who = context.plain(alert["acknowledged_by"])
            facts.append(f"acknowledged by **{who}** at {at:%Y-%m-%d %H:%M} UTC")
        if alert.get("resolved_by"):
            who = context.plain(alert["resolved_by"])
            facts.append(f"resolved by **{who}** at {alert['resolved_at']:%Y-%m-%d %H:%M} UTC")
        if alert.get("held"):
            facts.append(f"notifications held: {context.plain(alert['held'])}")
        if alert.get("note"):
            facts.append(f"note: {context.plain(alert['note'])}")
        if facts:
            st.markdown("  \n".join(facts))

        if alert["status"] != "resolved":
            with st.form(f"alert_action_{alert['id']}", clear_on_submit=True):
                note = st.text_area(
                    "Note", placeholder="what you found or did (kept on the alert)", max_chars=2000
                )
                buttons = st.columns(2)
                ack = buttons[0].form_submit_button(
                    "Acknowledge", disabled=alert["status"] != "open", type="primary", width="stretch"
                )
                resolve = buttons[1].form_submit_button("Resolve", width="stretch")
            if ack or resolve:
                st.session_state[SELECTED_KEY] = alert["id"]
                action = flow_alerts.acknowledge if ack else flow_alerts.resolve
                try:
                    queued = action(
                        rt, alert["id"], context.who(), (note or "").strip() or None, context.now()
                    )
                except flow_alerts.AlertNotFound:
                    context.flash(f"Alert #{alert['id']} no longer exists.", "error")
                else:
                    verb = "acknowledged" if ack else "resolved"
                    with st.spinner("Telling the channels…"):
                        sent = context.send_now(rt, queued)
                    context.flash(
                        f"Alert #{alert['id']} {verb} by {context.who()}." + (f" {sent}." if sent else "")
                    )
                st.rerun()

        st.markdown("**Notifications**")
        deliveries = store.deliveries_of(rt.engine, alert["id"])
        if deliveries:
            context.table(
                frames.deliveries_table(deliveries),
                hide_index=True,
                key="alert_deliveries",
                column_config={
                    "delivered_at": st.column_config.DatetimeColumn(
                        "delivered at", format="YYYY-MM-DD HH:mm:ss"
                    ),
                    "next_attempt_at": st.column_config.DatetimeColumn(
                        "next attempt", format="YYYY-MM-DD HH:mm:ss"
                    ),
                    "last_error": st.column_config.TextColumn("last error", width="large"),
                },
            )
        else:
            st.caption("No notification was queued for this alert (no matching route, or held by a silence).")
        with st.expander("Alert details"):
            st.json(alert.get("details") or {}, expanded=2)
