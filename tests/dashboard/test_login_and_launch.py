"""The password gate, the password hash, and `healthmon dashboard` refusing an open public bind."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from pydantic import SecretStr

from healthmon.dashboard import auth, launch
from healthmon.storage import alerts as store
from tests.dashboard import seed
from tests.dashboard.conftest import Dashboard, by_label, texts

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def password_hash() -> str:
    return auth.hash_password(PASSWORD)


def test_login_gate(dashboard: Dashboard, password_hash: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEALTHMON_DASHBOARD_PASSWORD_HASH", password_hash)
    seed.seed_results(dashboard.engine)
    alert_id = seed.open_alert(dashboard.engine)
    at = dashboard.open()
    # only the sign-in form: no page, no data
    assert [t.value for t in at.title] == ["🩺 healthmon"]
    assert not at.dataframe and not at.metric
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/alerts.py")

    by_label(at.text_input, "Password").input("wrong")
    by_label(at.button, "Sign in").click().run()
    assert [e.value for e in at.error] == ["Wrong password."]
    assert not at.dataframe

    by_label(at.text_input, "Your name").input("alice")
    by_label(at.text_input, "Password").input(PASSWORD)
    by_label(at.button, "Sign in").click().run()
    assert not at.exception
    assert at.title[0].value.endswith("Service × tenant matrix")  # noqa: RUF001
    assert "Signed in as **alice**" in [c.value for c in at.sidebar.caption]

    # what the signed-in user does carries their name
    at.switch_page("views/alerts.py").run()
    by_label(at.selectbox, "Alert").select(alert_id).run()
    by_label(at.button, "Acknowledge").click().run()
    row = store.get_alert(dashboard.engine, alert_id)
    assert row is not None and row["acknowledged_by"] == "alice"

    by_label(at.sidebar.button, "Sign out").click().run()
    assert [t.value for t in at.title] == ["🩺 healthmon"]
    assert not at.dataframe


def test_repeated_wrong_passwords_lock_the_session(
    dashboard: Dashboard, password_hash: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEALTHMON_DASHBOARD_PASSWORD_HASH", password_hash)
    at = dashboard.open()
    for _ in range(5):
        by_label(at.text_input, "Password").input("guess")
        by_label(at.button, "Sign in").click().run()
    by_label(at.text_input, "Password").input(PASSWORD)
    by_label(at.button, "Sign in").click().run()
    assert at.error[0].value.startswith("Too many wrong passwords")
    assert not at.dataframe


def test_no_password_means_no_login(dashboard: Dashboard) -> None:
    at = dashboard.open()
    assert at.title[0].value.endswith("Service × tenant matrix")  # noqa: RUF001
    assert "Sign out" not in [b.label for b in at.sidebar.button]
    assert "No results yet" in texts(at)


def test_password_hash_round_trip(password_hash: str) -> None:
    scheme, n, r, p, salt, key = password_hash.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert len(bytes.fromhex(salt)) == 16 and len(bytes.fromhex(key)) == 32
    assert auth.verify_password(PASSWORD, password_hash)
    assert not auth.verify_password(PASSWORD + " ", password_hash)
    assert not auth.verify_password("", password_hash)
    # a fresh salt each time: equal passwords do not give equal hashes
    assert auth.hash_password(PASSWORD) != password_hash


@pytest.mark.parametrize(
    "bad",
    ["", "plain-text-password", "scrypt$16384$8$1$zz$00", "bcrypt$16384$8$1$00$00", "scrypt$1000$8$1$00$00"],
)
def test_malformed_hashes_never_verify(bad: str) -> None:
    assert not auth.is_valid_hash(bad)
    assert not auth.verify_password("anything", bad)


def test_hash_beyond_the_memory_cap_is_refused_not_computed() -> None:
    huge = "scrypt$1048576$64$1$" + "00" * 16 + "$" + "00" * 32
    assert not auth.verify_password("anything", huge)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", "LOCALHOST"])
def test_loopback_binds_need_no_password(host: str) -> None:
    launch.check_bind(host, None)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "dashboard.example.com", ""])
def test_public_binds_need_a_password(host: str, password_hash: str) -> None:
    with pytest.raises(launch.LaunchRefused, match="HEALTHMON_DASHBOARD_PASSWORD_HASH: not set"):
        launch.check_bind(host, None)
    launch.check_bind(host, password_hash)


def test_a_hash_that_is_not_one_is_refused() -> None:
    with pytest.raises(launch.LaunchRefused, match="HEALTHMON_DASHBOARD_PASSWORD_HASH: not a password hash"):
        launch.check_bind("127.0.0.1", "hunter2")


def test_serve_refuses_before_starting_anything(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HEALTHMON_DASHBOARD_PASSWORD_HASH", raising=False)

    def no_process(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("serve must not start streamlit")

    monkeypatch.setattr(subprocess, "Popen", no_process)
    with pytest.raises(SystemExit) as exited:
        launch.serve("0.0.0.0", 8501)
    assert exited.value.code == 2
    assert "HEALTHMON_DASHBOARD_PASSWORD_HASH" in capsys.readouterr().err


def test_streamlit_command() -> None:
    command = launch.streamlit_command("127.0.0.1", 8600)
    assert command[1:5] == ["-m", "healthmon.dashboard.server", "run", str(launch.APP)]
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert options["--server.address"] == "127.0.0.1"
    assert options["--server.port"] == "8600"
    assert options["--server.headless"] == "true"
    assert options["--browser.gatherUsageStats"] == "false"


def test_settings_carry_the_hash(password_hash: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from healthmon.config.settings import load_settings

    monkeypatch.setenv("HEALTHMON_DASHBOARD_PASSWORD_HASH", password_hash)
    assert load_settings().dashboard_password_hash == SecretStr(password_hash)
