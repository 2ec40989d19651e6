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

    import dashboard.context
    import dashboard.frames  # noqa: F401
    import flows.runtime  # noqa: F401
    import storage.queries  # noqa: F401

    sys.argv = ["streamlit", *sys.argv[1:]]
    cli.main()


if __name__ == "__main__":
    main()
