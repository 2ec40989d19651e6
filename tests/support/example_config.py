"""The example config the repository ships, and an environment with every variable it reads."""

from __future__ import annotations

from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "healthmon.yaml"
EXAMPLE_ENV = {
    "PGPASSWORD_MONITOR": "pw",
    "REDIS_PASSWORD": "pw",
    "SLACK_WEBHOOK_URL": "https://hooks.example/x",
    "SMTP_PASSWORD": "pw",
    "PAGERDUTY_ROUTING_KEY": "k" * 32,
}
