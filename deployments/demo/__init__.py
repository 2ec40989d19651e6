"""`healthmon demo`: the whole system on one machine, against the sandbox, in about a minute.

    healthmon demo [--no-ui] [--fresh] [--tenants 12] [--data-dir .demo] [--api-port 8000]
        [--dashboard-port 8501] [--sandbox-port 0] [--prefect-port 0]

(`python -m healthmon.deployments.demo` is the same command.) What it does, in order:

1. `<data dir>` (default `.demo`): SQLite store, a Fernet key and an API token made once and
   kept (0600), unless HEALTHMON_DATABASE_URL / HEALTHMON_SECRET_KEY / HEALTHMON_API_TOKENS
   are set; the in-process cache unless HEALTHMON_REDIS_URL is set. A restart keeps the store
   (the banner says how many alerts are open in it); `--fresh` deletes the demo's own store and
   Prefect home first, and refuses when HEALTHMON_DATABASE_URL names the store.
2. The sandbox and a Prefect server (`prefect server start` on loopback, its database under
   `<data dir>/prefect`), started together. The demo adds a local mail catcher (email), the
   sandbox's webhook and Slack receivers, and routes that send every severity somewhere
   visible. Migrations, then the sandbox tenants.
3. A fixed scenario of faults (SCENARIO), so the first minute shows healthy, degraded and
   unhealthy services and opens alerts.
4. `healthmon serve` as a child against that server, on demo intervals (TIER_INTERVALS,
   delivery retries every 30 s): the same deployments, flow runs and watchdog as on a real box,
   so operators see the demo's runs in the Prefect UI. A child rather than serve's code in
   this process: Prefect's runner owns its event loop and its SIGTERM handling, and its flow
   runs inherit its environment, which here is the demo's and nothing else.
5. `healthmon api` and `healthmon dashboard` as children, unless `ui=False`.

Ctrl-C or SIGTERM stops serve first (it cancels the runs in flight), then the other children
(SIGTERM, SIGKILL after a timeout), and exits 0.

The package, by job: `supervisor` (child processes: ports, start, watch, stop), `scenario`
(the faults and the tenants' names), `bed` (the data dir: layout, kept secrets, environment,
config and env file), `runner` (the Demo: setup, children, banner, stop), `__main__` (the module entry).
"""

from __future__ import annotations

from healthmon.deployments.demo.bed import demo_config, kept_secret
from healthmon.deployments.demo.errors import DemoError
from healthmon.deployments.demo.runner import TIER_INTERVALS, Demo, DemoOptions, run_demo
from healthmon.deployments.demo.scenario import SCENARIO, ScenarioFault, scenario_requests, tenant_id_of
from healthmon.deployments.demo.supervisor import free_port, port_in_use

__all__ = [
    "SCENARIO",
    "TIER_INTERVALS",
    "Demo",
    "DemoError",
    "DemoOptions",
    "ScenarioFault",
    "demo_config",
    "free_port",
    "kept_secret",
    "port_in_use",
    "run_demo",
    "scenario_requests",
    "tenant_id_of",
]
