"""The Streamlit server process, with the dashboard's heavy imports done before it listens.

Streamlit imports a page's modules on the first script run, i.e. while the first visitor
waits: pandas, Altair, SQLAlchemy and the app's own modules cost seconds on a cold process
(docs/performance.md). Importing them here, once, moves that cost to server start.

    python -m dashboard.server <streamlit run arguments...>
"""

from __future__ import annotations

import sys


def main() -> None:
    import altair  # noqa: F401
    import pandas  # noqa: F401
    from streamlit.web import cli

    import healthmon.dashboard.context
    import healthmon.dashboard.frames
    import healthmon.flows.app
    import healthmon.storage.queries  # noqa: F401

    _warm()
    sys.argv = ["streamlit", *sys.argv[1:]]
    cli.main()


def _warm() -> None:
    """Build the process's App (st.cache_resource is process-wide) and read the matrix once,
    so the first visitor does not wait for the database connection and a cold page cache;
    then start the refresher of the figures over every tenant (dashboard/kept.py) on what the
    pages' first views ask for: its worker process computes them while the server starts
    listening."""
    import logging

    from healthmon.dashboard import context
    from healthmon.dashboard import uptime as uptime_figures
    from healthmon.dashboard.kept import KEPT

    logging.getLogger("streamlit").setLevel(logging.ERROR)  # "no script run context" notices
    try:
        runtime = context.runtime()
        cells = context.cells(runtime)
        per_tenant = [s for s in runtime.scheduled_services() if context.per_tenant(s)]
        services = tuple(sorted({c.service for c in cells}))
        KEPT.start(lambda: uptime_figures.warm(runtime, services, per_tenant), worker=True)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:
        # a configuration or database problem (reported through st.stop, a BaseException):
        # the first page view shows it properly, with the dashboard's own message
        pass


if __name__ == "__main__":
    main()
