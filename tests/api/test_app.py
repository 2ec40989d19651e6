"""What every route shares: the error shape, no internals in a 500, 503 when the database is gone."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from healthmon.api.app import create_app
from healthmon.flows.app import App
from tests.api.conftest import ADMIN, READ, TOKENS
from tests.support.app import AppFactory


def test_unexpected_errors_do_not_leak(runtime: App, caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(runtime, TOKENS)

    def boom() -> None:
        raise RuntimeError("password=hunter2 at /srv/secret/path")

    app.add_api_route("/api/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as http:
        response = http.get("/api/boom", headers=READ)
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error; the server log has the details"}
    assert "hunter2" not in response.text
    assert response.headers["cache-control"] == "no-store"
    assert "hunter2" in caplog.text  # the operator still sees it


def test_database_down(make_app: AppFactory) -> None:
    # a port nothing listens on: connections are refused at once
    runtime = make_app("postgresql://healthmon@127.0.0.1:1/healthmon", {})
    with TestClient(create_app(runtime, TOKENS), raise_server_exceptions=False) as http:
        healthz = http.get("/healthz")
        assert healthz.status_code == 503
        assert healthz.json() == {"status": "unavailable", "database": "unreachable"}
        for path in ("/api/alerts", "/api/tenants", "/api/platform/health/matrix"):
            response = http.get(path, headers=READ)
            assert response.status_code == 503, path
            assert response.json()["detail"] == "healthmon's database is unavailable; try again shortly"
            assert response.headers["retry-after"] == "5"
        assert http.post("/api/tenants/acme/disable", headers=ADMIN).status_code == 503


def test_unknown_route_and_method(client: TestClient) -> None:
    assert client.get("/api/nothing", headers=READ).status_code == 404
    wrong = client.delete("/api/tenants", headers=ADMIN)
    assert wrong.status_code == 405
    assert wrong.headers["cache-control"] == "no-store"


def test_schema_documents_errors(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    put = schema["paths"]["/api/thresholds/{service}/{metric}"]["put"]
    assert {"401", "403", "404", "422"} <= set(put["responses"])
    assert put["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }
    matrix = schema["paths"]["/api/platform/health/matrix"]["get"]
    assert matrix["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Matrix"
    }
    assert schema["paths"]["/healthz"]["get"].get("security") is None
    assert put["security"] == [{"bearerAuth": []}]
