"""One format on every route: times are RFC 3339 with `Z`, latency is rounded to 0.1 ms.

Every GET route the OpenAPI schema lists is called on a seeded app (so a new route is covered
the day it is added), and every value in its answer is checked, however deep.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthmon.api.formats import rfc3339
from healthmon.monitors.result import Status
from tests.api.conftest import ADMIN, READ, Seeded, record, result

#: what a timer gives: the API must not pass its noise on
UNROUNDED_MS = 2.002540000148656
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _values(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, value) of every leaf; matrix cells (arrays) are named by the answer's `fields`."""
    if isinstance(node, dict):
        names = node.get("fields")
        for key, value in node.items():
            if key == "cells" and isinstance(names, list):
                for n, cell in enumerate(value):
                    for name, item in zip(names, cell, strict=True):
                        yield f"{path}.cells[{n}].{name}", item
            else:
                yield from _values(value, f"{path}.{key}")
    elif isinstance(node, list):
        for n, item in enumerate(node):
            yield from _values(item, f"{path}[{n}]")
    else:
        yield path, node


def _urls(client: TestClient, seeded: Seeded) -> list[str]:
    """Every GET route of the schema, its path parameters filled with seeded things."""
    known = {
        "service": ["shopify", "mux", "redis"],
        "tenant_id": ["acme", "globex"],
        "alert_id": [str(seeded.shopify_alert), str(seeded.resolved_alert)],
    }
    urls = []
    for path, operations in client.get("/openapi.json").json()["paths"].items():
        if "get" not in operations or path == "/metrics":  # /metrics is Prometheus text
            continue
        names = re.findall(r"{(\w+)}", path)
        assert set(names) <= set(known), f"{path}: give the test values for {set(names) - set(known)}"
        filled = [path]
        for name in names:
            filled = [url.replace(f"{{{name}}}", value) for url in filled for value in known[name]]
        urls += filled
    # the matrix's filtered answer is built apart from the whole one
    return [*urls, "/api/platform/health/matrix?tier=critical&tier=external"]


def test_every_get_route_writes_times_with_z_and_latency_to_a_tenth(
    seeded: Seeded, client: TestClient
) -> None:
    record(seeded.runtime, [result("mux", None, Status.HEALTHY, UNROUNDED_MS)])
    made = client.post(
        "/api/silences", headers=ADMIN, json={"service": "redis", "duration_min": 60, "reason": "upgrade"}
    )
    assert made.status_code == 201, made.text
    times, latencies = 0, 0
    for url in _urls(client, seeded):
        answer = client.get(url, headers=READ)
        assert answer.status_code == 200, (url, answer.text)
        for path, value in _values(answer.json()):
            if isinstance(value, str) and TIME.match(value):
                times += 1
                assert value.endswith("Z"), f"{url} {path}: {value}"
                assert rfc3339(value) == value
            if path.endswith("latency_ms") and value is not None:
                latencies += 1
                assert round(value, 1) == value, f"{url} {path}: {value}"
                if url.endswith("/mux") or "matrix" in url:
                    assert value != UNROUNDED_MS
    # the walk saw what it checks: a route that answers nothing proves nothing
    assert times > 50 and latencies > 10


@pytest.mark.parametrize(
    ("given", "written"),
    [
        ("2026-12-01T13:18:52.684884+00:00", "2026-12-01T13:18:52.684884Z"),
        ("2026-12-01T15:18:52+02:00", "2026-12-01T13:18:52Z"),
        # SQLite hands back naive times, which healthmon always writes in UTC
        ("2026-12-01T13:18:52", "2026-12-01T13:18:52Z"),
    ],
)
def test_rfc3339(given: str, written: str) -> None:
    assert rfc3339(given) == written
