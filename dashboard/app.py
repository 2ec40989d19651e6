"""healthmon's dashboard: `streamlit run dashboard/app.py` (through `healthmon dashboard`).

Every page runs through this script, so the login gate below guards all of them. The pages
live in dashboard/views/, not dashboard/pages/: Streamlit treats a `pages/` folder next to the
main script as "multipage v1" and can run such a page without this script, skipping the gate.
"""

from __future__ import annotations

import sys
import time
from importlib.util import find_spec
from pathlib import Path

if find_spec("dashboard") is None:  # started by path from an install that predates the package
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit as st

from healthmon.dashboard import context
from healthmon.dashboard.auth import verify_password
from healthmon.dashboard.kept import KEPT

HERE = Path(__file__).resolve().parent
#: after this many wrong passwords a session waits LOCKOUT_S before it may try again
MAX_FAILURES = 5
LOCKOUT_S = 30.0
FAILURES_KEY = "healthmon_login_failures"


def login() -> None:
    st.title("🩺 healthmon")
    st.caption("Sign in to the health dashboard.")
    failures, last = st.session_state.get(FAILURES_KEY, (0, 0.0))
    locked_for = LOCKOUT_S - (time.monotonic() - last) if failures >= MAX_FAILURES else 0.0
    with st.form("login", enter_to_submit=True):
        name = st.text_input("Your name", placeholder="shown on acknowledgements and changes", max_chars=64)
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return
    if locked_for > 0:
        st.error(f"Too many wrong passwords: wait {locked_for:.0f} s.")
        return
    hashed = context.settings().dashboard_password_hash
    if hashed is not None and verify_password(password or "", hashed.get_secret_value()):
        st.session_state.pop(FAILURES_KEY, None)
        st.session_state[context.USER_KEY] = (name or "").strip() or context.DEFAULT_USER
        st.rerun()
    st.session_state[FAILURES_KEY] = (failures + 1, time.monotonic())
    st.error("Wrong password.")


def signed_in() -> bool:
    """Without a password hash there is no login: launch.py only binds to loopback then."""
    if context.settings().dashboard_password_hash is None:
        return True
    return bool(st.session_state.get(context.USER_KEY))


def sidebar() -> None:
    with st.sidebar:
        if context.settings().dashboard_password_hash is not None:
            st.caption(f"Signed in as **{context.plain(context.who())}**")
            if st.button("Sign out", key="sign-out"):
                st.session_state.pop(context.USER_KEY, None)
                st.rerun()
        rt = context.runtime()
        st.caption(f"Store: {rt.engine.dialect.name} · cache: {rt.cache.backend}")


st.set_page_config(page_title="healthmon", page_icon="🩺", layout="wide")

if not signed_in():
    # the login page is the only page: nothing else is registered, so no URL reaches another page
    st.navigation(
        [st.Page(login, title="Sign in", icon=":material/lock:", url_path="login")], position="hidden"
    ).run()
    st.stop()

#: section -> (view script and URL path, title, icon)
DEFAULT = "matrix"
PAGES = {
    "Monitor": [
        ("matrix", "Matrix", ":material/grid_view:"),
        ("service", "Service detail", ":material/monitoring:"),
    ],
    "Respond": [("alerts", "Alerts", ":material/notifications_active:")],
    "Configure": [
        ("thresholds", "Thresholds", ":material/tune:"),
        ("tenants", "Tenants & silences", ":material/groups:"),
    ],
}
pages = {
    section: [
        st.Page(HERE / "views" / f"{name}.py", title=title, icon=icon, url_path=name, default=name == DEFAULT)
        for name, title, icon in entries
    ]
    for section, entries in PAGES.items()
}
page = st.navigation(pages)
sidebar()
context.show_flash()
with context.guarded():
    page.run()
# the first page view has been served: the refresher's first round may begin (dashboard/kept.py)
KEPT.page_served()
