"""Threshold overrides per service and per tenant, validated by alerting.thresholds.validate_rule (as the
API does) before anything is written; each problem is shown under the field it is about."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
import streamlit as st

from healthmon.alerting.replay import Replay
from healthmon.alerting.thresholds import RuleInputError, settable_metrics, validate_rule
from healthmon.dashboard import context, frames
from healthmon.dashboard import uptime as uptime_figures
from healthmon.flows.replay import WINDOW_DAYS, preview
from healthmon.storage.thresholds import clear_override, list_overrides, set_override


def bound_text(rule: Mapping[str, Any] | None, field: str) -> str:
    """A bound as the form shows it: `%g`, or empty for no bound."""
    value = None if rule is None else rule.get(field)
    return "" if value is None else f"{float(value):g}"


def duration_text(seconds: float) -> str:
    """Time spent in a status, at the scale it is read: minutes, hours or days."""
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def replay_table(outcome: Replay) -> pd.DataFrame:
    """The current and the proposed rule side by side, one row per figure."""
    rows = []
    for label, figure, shown in REPLAY_ROWS:
        now, then = getattr(outcome.current, figure), getattr(outcome.proposed, figure)
        rows.append({"": label, "current rule": shown(now), "proposed rule": shown(then)})
    return pd.DataFrame(rows)


REPLAY_ROWS: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("alerts opened", "alerts", str),
    ("alerts resolved", "resolved", str),
    ("tenants affected", "tenants", str),
    ("time degraded", "degraded_s", duration_text),
    ("time unhealthy", "unhealthy_s", duration_text),
)


st.title("🎚️ Thresholds")
st.caption(
    "A result's status is the worse of the monitor's own verdict and these thresholds. "
    "Precedence: ⚙️ default < 📄 config < 🛠️ service override < 🏷️ tenant override."
)

rt = context.runtime()
with st.container(horizontal=True, vertical_alignment="bottom"):
    service = st.selectbox(
        "Service", context.services(), key="thr_service", format_func=lambda s: f"{s} · {context.tier_of(s)}"
    )
    service = service or context.services()[0]
    tenant: str | None = None
    if context.per_tenant(service):
        with context.guarded():
            ids = [t.id for t in uptime_figures.tenants(rt) if service in t.integrations]
        tenant = st.selectbox(
            "Tenant", ids, index=None, key="thr_tenant", placeholder="service-wide (every tenant)"
        )
scope = f"tenant {tenant}" if tenant else "service-wide"

with context.guarded():
    # only what the monitor reports: a rule on any other metric (a global default such as
    # token_expires_in_days for postgres) never judges anything, and listing it misleads
    emitted = settable_metrics(service)
    effective = [r for r in rt.effective_thresholds(service, tenant) if r["metric"] in emitted]
    st.subheader(f"Effective for {service}" + (f" · {tenant}" if tenant else ""))
    context.table(
        frames.thresholds_table(effective),
        hide_index=True,
        key="thr_effective",
        column_config={
            "degraded at": st.column_config.NumberColumn(format="%g"),
            "unhealthy at": st.column_config.NumberColumn(format="%g"),
        },
    )

    st.subheader(f"Set a {scope} override")
    options = emitted
    metric = st.selectbox("Metric", options, index=options.index("latency_ms"), key="thr_metric")
    metric = metric or "latency_ms"
    current = next((r for r in effective if r["metric"] == metric), None)
    # one form per target and metric, so that its fields start from that metric's effective rule
    with st.form(f"thr_form_{service}_{tenant}_{metric}"):
        columns = st.columns(3, vertical_alignment="top")
        # text, not st.number_input: a number input keeps its old value when "abc" is typed,
        # and that old value would be saved as if it had been meant
        degraded = columns[0].text_input(
            "Degraded at",
            value=bound_text(current, "degraded"),
            placeholder="no bound",
            key=f"thr_degraded_{service}_{tenant}_{metric}",
        )
        unhealthy = columns[1].text_input(
            "Unhealthy at",
            value=bound_text(current, "unhealthy"),
            placeholder="no bound",
            key=f"thr_unhealthy_{service}_{tenant}_{metric}",
        )
        inverse = columns[2].checkbox(
            "Below is worse",
            value=bool(current["inverse"]) if current else False,
            help="for headroom metrics such as rate limit remaining or days to token expiry",
            key=f"thr_inverse_{service}_{tenant}_{metric}",
        )
        # where a problem with each field is shown: under the field itself
        slots = {
            "degraded": columns[0].empty(),
            "unhealthy": columns[1].empty(),
            "inverse": columns[2].empty(),
        }
        with st.container(horizontal=True):
            previewed = st.form_submit_button(
                "Preview", help=f"what this rule would have done over the last {WINDOW_DAYS} days"
            )
            saved = st.form_submit_button("Save override", type="primary")
        other = st.empty()
    if saved or previewed:
        try:
            rule = validate_rule(service, metric, degraded, unhealthy, inverse)
        except RuleInputError as exc:
            verb = "saved" if saved else "previewed"
            for field, message in exc.problems:
                (slots.get(field) or other).error(f"Not {verb} — {field}: {message}", icon="🚫")
        else:
            if previewed:
                st.subheader(f"Preview: {metric} over the last {WINDOW_DAYS} days ({scope})")
                table = replay_table(preview(rt, service, rule, tenant))
                st.dataframe(table, hide_index=True, key="thr_preview")
                st.caption(
                    "Replayed with the confirmation of live runs (alerts open after consecutive "
                    "not-healthy results and resolve after consecutive healthy ones). The cross-tenant "
                    "rollup, silences and acknowledgements are not replayed. Nothing is saved yet."
                )
            else:
                set_override(
                    rt.engine,
                    service,
                    tenant,
                    rule.metric,
                    rule.degraded,
                    rule.unhealthy,
                    rule.inverse,
                    context.who(),
                )
                context.flash(f"Saved the {scope} override of {service} {rule.metric}.")
                st.rerun()

    st.subheader(f"Overrides of {service}")
    overrides = list_overrides(rt.engine, service)
    if not overrides:
        st.caption("None: every metric follows the defaults and the config.")
    else:
        context.table(frames.overrides_table(overrides), hide_index=True, key="thr_overrides")
        choices = [(str(r["tenant_id"]), str(r["metric"])) for r in overrides]
        with st.container(horizontal=True, vertical_alignment="bottom"):
            picked = st.selectbox(
                "Override",
                choices,
                index=None,
                key="thr_clear_pick",
                format_func=lambda c: f"{c[1]} · {'tenant ' + c[0] if c[0] else 'service-wide'}",
                placeholder="pick one to clear",
            )
            if st.button("Clear override", key="thr_clear", disabled=picked is None) and picked is not None:
                cleared = clear_override(rt.engine, service, picked[0] or None, picked[1])
                context.flash(
                    f"Cleared the override of {service} {picked[1]}." if cleared else "It was already gone.",
                    "success" if cleared else "info",
                )
                st.rerun()
