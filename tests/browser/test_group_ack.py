"""A whole alert group acknowledged in one go from the Alerts page, in headless Chromium
(the harness of test_dashboard_browser: `healthmon dashboard` over a seeded SQLite store)."""

from __future__ import annotations

from urllib.parse import quote

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from healthmon.storage import alerts as store
from healthmon.storage.db import make_engine
from tests.browser.test_dashboard_browser import button, chrome, pytestmark, served_dashboard, until
from tests.support.alert_groups import open_group, tenants

__all__ = ["pytestmark", "served_dashboard"]  # the skip rule and the fixture, shared


def test_a_group_is_acknowledged_with_one_note(served_dashboard: tuple[str, str]) -> None:
    base, url = served_dashboard
    engine = make_engine(url)
    group = open_group(engine, "meta_ads", tenants(12))
    driver = chrome()
    try:
        # the link a group notification carries: that group alone, opened
        driver.get(f"{base}/alerts?group={quote('meta_ads|health')}")
        note: WebElement = until(
            driver, lambda d: d.find_elements(By.CSS_SELECTOR, 'input[aria-label="Note for these alerts"]')
        )[0]
        note.send_keys("tokens rotate tonight")
        until(driver, lambda d: button(d, "Acknowledge selected")).click()

        def all_acknowledged(_: WebDriver) -> list[dict[str, object]] | None:
            rows = list(store.alerts_by_ids(engine, group).values())
            return rows if all(r["status"] == "acknowledged" for r in rows) else None

        rows: list[dict[str, object]] = until(driver, all_acknowledged, timeout=30)
        assert {(r["acknowledged_by"], r["note"]) for r in rows} == {("dashboard", "tokens rotate tonight")}
        # the page says so, and the other alert (stripe) is left alone
        until(driver, lambda d: "12 alerts of meta_ads · health acknowledged" in d.page_source)
        assert store.list_alerts(engine, service="stripe")[0]["status"] == "open"
    finally:
        driver.quit()
