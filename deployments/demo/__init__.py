"""`healthmon demo`: the whole system on one machine, against the sandbox, in under a minute.

    python -m healthmon.deployments.demo [--no-ui] [--tenants 12] [--data-dir .demo] [--api-port 8000]
        [--dashboard-port 8501] [--sandbox-port 0]

What it does, in order:

1. `<data dir>` (default `.demo`): SQLite store, a Fernet key and an API token made once and
   kept (0600), unless HEALTHMON_DATABASE_URL / HEALTHMON_SECRET_KEY / HEALTHMON_API_TOKENS
   are set; the in-process cache unless HEALTHMON_REDIS_URL is set.
2. The sandbox in a child process with its generated config; the demo adds a local mail
   catcher (email), the sandbox's webhook and Slack receivers, and routes that send every
   severity somewhere visible. Migrations, then the sandbox tenants.
3. A fixed scenario of faults (SCENARIO), so the first minute shows healthy, degraded and
   unhealthy services and opens alerts.
4. Every tier in this process on demo intervals (TIER_INTERVALS), without Prefect: a Prefect
   server costs 5-13 s to start and each scheduled run a subprocess, far from "a dashboard
   within a minute". Delivery retries every 10 s; the watchdog looks every 15 s.
5. `healthmon api` and `healthmon dashboard` as children, unless `ui=False`.

Ctrl-C or SIGTERM stops the loops, then the children (SIGTERM, SIGKILL after a timeout),
and exits 0.

The package, by job: `supervisor` (child processes: ports, start, watch, stop), `scenario`
(the faults and the tenants' names), `bed` (the data dir: kept secrets, environment, config
and env file), `runner` (the Demo's loops and banner), `__main__` (the argparse entry).
"""

from __future__ import annotations

from healthmon.deployments.demo.bed import demo_config, kept_secret
from healthmon.deployments.demo.errors import DemoError
from healthmon.deployments.demo.runner import TIER_INTERVALS, Demo, run_demo
from healthmon.deployments.demo.scenario import SCENARIO, ScenarioFault, scenario_requests, tenant_id_of
from healthmon.deployments.demo.supervisor import free_port, port_in_use

__all__ = [
    "SCENARIO",
    "TIER_INTERVALS",
    "Demo",
    "DemoError",
    "ScenarioFault",
    "demo_config",
    "free_port",
    "kept_secret",
    "port_in_use",
    "run_demo",
    "scenario_requests",
    "tenant_id_of",
]
