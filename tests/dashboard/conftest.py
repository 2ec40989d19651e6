"""The dashboard under streamlit.testing.v1.AppTest, against a real, seeded database.

The app builds its App from HEALTHMON_* like `healthmon dashboard` does; each test points
those at its own database and drops the cached runtime before and after.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from healthmon.dashboard import context
from healthmon.storage.crypto import Cipher
from healthmon.storage.db import make_engine
from tests.support.app import SECRET_KEY

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
#: the first run imports pandas, altair and the app's modules: far more than AppTest's 3 s default
FIRST_RUN_S = 60.0
RUN_S = 20.0

OpenPage = Callable[..., AppTest]


class Dashboard:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = make_engine(url)
        self.cipher = Cipher.from_setting(SECRET_KEY)

    def open(self, page: str | None = None, **query: str) -> AppTest:
        """The app, run once (the default page), then switched to `views/<page>.py` if given."""
        at = AppTest.from_file(str(APP), default_timeout=RUN_S)
        if page is None:
            at.query_params.update(query)
        at.run(timeout=FIRST_RUN_S)
        assert not at.exception, [e.value for e in at.exception]
        if page is not None:
            at.query_params.update(query)
            at.switch_page(f"views/{page}.py").run()
            assert not at.exception, [e.value for e in at.exception]
        return at


def _dashboard_on(url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Dashboard]:
    monkeypatch.setenv("HEALTHMON_DATABASE_URL", url)
    monkeypatch.setenv("HEALTHMON_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("HEALTHMON_CONFIG", "")
    for name in ("HEALTHMON_REDIS_URL", "HEALTHMON_DASHBOARD_PASSWORD_HASH", "HEALTHMON_API_TOKENS"):
        monkeypatch.delenv(name, raising=False)
    context.reset()
    board = Dashboard(url)
    yield board
    context.reset()
    board.engine.dispose()


@pytest.fixture
def dashboard(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Dashboard]:
    yield from _dashboard_on(sqlite_url, monkeypatch)


@pytest.fixture
def pg_dashboard(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Dashboard]:
    yield from _dashboard_on(pg_url, monkeypatch)


def by_label(elements: Any, label: str) -> Any:
    """The one element of a list (at.button, at.selectbox, ...) with this label."""
    found = [e for e in elements if e.label == label]
    assert len(found) == 1, f"{len(found)} elements labelled {label!r}: {[e.label for e in elements]}"
    return found[0]


def texts(at: AppTest) -> str:
    """Everything the page says in markdown, captions, alerts and headings, for `in` checks."""
    parts = [
        e.value
        for kind in ("markdown", "caption", "info", "success", "warning", "error", "title", "subheader")
        for e in getattr(at, kind)
    ]
    return "\n".join(str(p) for p in parts)


def table(at: AppTest, *columns: str) -> pd.DataFrame:
    """The one table shown whose columns start with these (plain tables carry no key to find them by)."""
    found = [d.value for d in at.dataframe if list(d.value.columns[: len(columns)]) == list(columns)]
    assert len(found) == 1, (
        f"{len(found)} tables with columns {columns}: {[list(d.value.columns) for d in at.dataframe]}"
    )
    return found[0]
