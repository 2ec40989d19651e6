"""The dashboard in a real browser: Debian's Chromium, headless, driven through ChromeDriver.

`healthmon dashboard` serves a seeded SQLite store; the test checks that the matrix renders the
seeded statuses, acknowledges an alert through the Alerts page, and saves a screenshot of the
matrix to .artifacts/dashboard-matrix.png.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from healthmon.monitors.result import Status
from healthmon.storage import alerts as store
from healthmon.storage.crypto import Cipher
from healthmon.storage.db import make_engine
from healthmon.storage.results import record_results
from tests.dashboard.seed import now, open_alert, result, seed_results, seed_tenants
from tests.support.app import SECRET_KEY
from tests.support.servers import free_port
from tests.support.waiting import http_ok, wait_until

HEALTHMON = [sys.executable, "-m", "healthmon.deployments.cli"]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason="Debian's chromium and chromium-driver are not installed (scripts/servers.sh installs them)",
)


def chrome() -> WebDriver:
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1600,1100"):
        options.add_argument(arg)
    # ChromeDriver from Debian, never one Selenium Manager would download
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def until(driver: WebDriver, condition: Callable[[WebDriver], Any], timeout: float = 60) -> Any:
    """The condition's first truthy value, polled until `timeout`."""
    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(condition)


@pytest.fixture
def served_dashboard(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    engine = make_engine(sqlite_url)
    seed_tenants(engine, Cipher.from_setting(SECRET_KEY))
    seed_results(engine)
    open_alert(engine, "stripe", title="stripe unhealthy (platform)")
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HEALTHMON_")},
        "HEALTHMON_DATABASE_URL": sqlite_url,
        "HEALTHMON_SECRET_KEY": SECRET_KEY,
        "HEALTHMON_CONFIG": "",
        "HEALTHMON_DATA_DIR": str(tmp_path),
    }
    process = subprocess.Popen(
        [*HEALTHMON, "dashboard", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            assert process.poll() is None, process.stderr.read() if process.stderr else "dashboard exited"
            return http_ok(f"{base}/_stcore/health")

        wait_until(up, 60, "the dashboard to come up")
        yield base, sqlite_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def metric_values(driver: WebDriver) -> dict[str, str]:
    """The st.metric cards on the page: label -> value."""
    found = {}
    for card in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stMetric"]'):
        label = card.find_elements(By.CSS_SELECTOR, '[data-testid="stMetricLabel"]')
        value = card.find_elements(By.CSS_SELECTOR, '[data-testid="stMetricValue"]')
        if label and value:
            found[label[0].text.strip()] = value[0].text.strip()
    return found


def button(driver: WebDriver, text: str) -> WebElement | None:
    for candidate in driver.find_elements(By.TAG_NAME, "button"):
        if candidate.text.strip() == text and candidate.is_enabled():
            return candidate
    return None


def selectbox(driver: WebDriver, label: str) -> WebElement | None:
    """The text input of the selectbox with this label."""
    for box in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stSelectbox"]'):
        labels = box.find_elements(By.CSS_SELECTOR, '[data-testid="stWidgetLabel"]')
        if labels and labels[0].text.strip() == label:
            return box.find_element(By.TAG_NAME, "input")
    return None


def test_matrix_renders_and_an_alert_is_acknowledged(served_dashboard: tuple[str, str]) -> None:
    base, url = served_dashboard
    driver = chrome()
    try:
        driver.get(f"{base}/")  # the matrix is the default page
        # the grid (a canvas) and the counts above it: 9 seeded targets, 2 of them unhealthy
        until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="stDataFrame"]'))
        counts: dict[str, str] = until(driver, lambda d: (m := metric_values(d)).get("targets") == "9" and m)
        assert any("unhealthy" in label.lower() and value == "2" for label, value in counts.items()), counts
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "dashboard-matrix.png"
        until(driver, lambda d: d.save_screenshot(str(shot)))
        assert shot.stat().st_size > 10_000

        # another process records a result: the open page shows it on its own (the matrix's
        # fragment reruns every few seconds), nobody clicks
        engine = make_engine(url)
        record_results(engine, [result("mux", None, Status.UNHEALTHY, now())])
        until(
            driver,
            lambda d: any("unhealthy" in k.lower() and v == "3" for k, v in metric_values(d).items()),
            timeout=30,
        )

        driver.get(f"{base}/alerts")
        picker = until(driver, lambda d: selectbox(d, "Alert"))
        picker.click()
        picker.send_keys("stripe")
        picker.send_keys(Keys.ENTER)
        note = until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, 'textarea[aria-label="Note"]'))[0]
        note.send_keys("looking into it from the browser")
        acknowledge: WebElement = until(driver, lambda d: button(d, "Acknowledge"))
        acknowledge.click()

        def acknowledged(_: WebDriver) -> dict[str, object] | None:
            alert = store.list_alerts(engine, service="stripe")[0]
            return alert if alert["status"] == "acknowledged" else None

        alert: dict[str, object] = until(driver, acknowledged, timeout=30)
        assert alert["acknowledged_by"] and alert["note"] == "looking into it from the browser"
    finally:
        driver.quit()
