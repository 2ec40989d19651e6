"""Threshold overrides per service and per tenant, validated like the config before anything is written."""

from __future__ import annotations

import re

import streamlit as st
from pydantic import ValidationError

from alerting.thresholds import ThresholdRule
from dashboard import context, frames
from monitors.registry import MONITORS
from storage.tenants import list_tenants
from storage.thresholds import clear_override, list_overrides, set_override

OTHER = "another metric…"
METRIC_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def rule_error(exc: ValidationError) -> str:
    """The first problem, naming the field (pydantic's own wording is kept: it names the bound)."""
    first = exc.errors()[0]
    message = str(first["msg"]).removeprefix("Value error, ")
    where = ".".join(str(p) for p in first.get("loc") or ())
    return f"{where}: {message}" if where else message


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
            ids = [t.id for t in list_tenants(rt.engine) if service in t.integrations]
        tenant = st.selectbox(
            "Tenant", ids, index=None, key="thr_tenant", placeholder="service-wide (every tenant)"
        )
scope = f"tenant {tenant}" if tenant else "service-wide"

with context.guarded():
    effective = rt.effective_thresholds(service, tenant)
    st.subheader(f"Effective for {service}" + (f" · {tenant}" if tenant else ""))
    st.dataframe(
        frames.thresholds_table(effective),
        hide_index=True,
        key="thr_effective",
        column_config={
            "degraded at": st.column_config.NumberColumn(format="%g"),
            "unhealthy at": st.column_config.NumberColumn(format="%g"),
        },
    )

    st.subheader(f"Set a {scope} override")
    known = {r["metric"] for r in effective} | set(MONITORS[service].metrics) | {"latency_ms"}
    options = [*sorted(known), OTHER]
    metric = st.selectbox("Metric", options, index=options.index("latency_ms"), key="thr_metric")
    if metric == OTHER:
        metric = (
            st.text_input("Metric name", key="thr_metric_other", placeholder="as the monitor reports it")
            or ""
        ).strip()
    current = next((r for r in effective if r["metric"] == metric), None)
    # one form per target and metric, so that its fields start from that metric's effective rule
    with st.form(f"thr_form_{service}_{tenant}_{metric}"):
        columns = st.columns(3, vertical_alignment="bottom")
        degraded = columns[0].number_input(
            "Degraded at",
            value=None if current is None or current["degraded"] is None else float(current["degraded"]),
            placeholder="no bound",
            format="%g",
            key=f"thr_degraded_{service}_{tenant}_{metric}",
        )
        unhealthy = columns[1].number_input(
            "Unhealthy at",
            value=None if current is None or current["unhealthy"] is None else float(current["unhealthy"]),
            placeholder="no bound",
            format="%g",
            key=f"thr_unhealthy_{service}_{tenant}_{metric}",
        )
        inverse = columns[2].checkbox(
            "Below is worse",
            value=bool(current["inverse"]) if current else False,
            help="for headroom metrics such as rate limit remaining or days to token expiry",
            key=f"thr_inverse_{service}_{tenant}_{metric}",
        )
        saved = st.form_submit_button("Save override", type="primary")
    if saved:
        if not METRIC_NAME.match(metric):
            st.error("metric: a name of lowercase letters, digits and '_', as the monitor reports it")
        else:
            try:
                rule = ThresholdRule(metric=metric, degraded=degraded, unhealthy=unhealthy, inverse=inverse)
            except ValidationError as exc:
                st.error(f"Not saved — {rule_error(exc)}", icon="🚫")
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
        st.dataframe(frames.overrides_table(overrides), hide_index=True, key="thr_overrides")
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
