"""The alert policy built from the config: every field carried, and one set of defaults."""

from __future__ import annotations

from dataclasses import fields

from healthmon.alerting.notification import Severity
from healthmon.alerting.policy import AlertPolicy
from healthmon.config.schema import AlertingConfig
from healthmon.flows.alerting_setup import build_policy
from healthmon.monitors.result import Status, Tier


def test_the_default_config_gives_the_default_policy() -> None:
    # the config's defaults are what users read in docs/configuration.md; the policy's own are
    # what the pure lifecycle tests use: they must not drift apart
    assert build_policy(AlertingConfig()) == AlertPolicy()


def test_every_policy_field_comes_from_the_config() -> None:
    cfg = AlertingConfig(
        open_after=5,
        resolve_after=4,
        renotify_after_s={"p1": 60, "p2": 120, "p3": 180},
        flap_changes=9,
        flap_window_s=99.0,
        rollup_min_share=0.5,
        rollup_min_tenants=7,
        retry_base_s=3.0,
        retry_cap_s=30.0,
        max_attempts=11,
        group_wait=7.0,
        group_interval=70.0,
        severity={"external.unhealthy": "p2"},
    )
    policy = build_policy(cfg)
    for f in fields(AlertPolicy):
        if f.name not in ("severity", "renotify_after_s"):
            assert getattr(policy, f.name) == getattr(cfg, f.name), f.name
            assert getattr(policy, f.name) != getattr(AlertPolicy(), f.name), f"{f.name} unchanged"
    assert policy.renotify_after_s == {Severity.P1: 60, Severity.P2: 120, Severity.P3: 180}
    assert policy.severity_for(Tier.EXTERNAL, Status.UNHEALTHY) is Severity.P2
    assert policy.severity_for(Tier.CRITICAL, Status.UNHEALTHY) is Severity.P1  # the default kept
