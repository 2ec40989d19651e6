from __future__ import annotations

import httpx

from healthmon.sandbox import SandboxState


def get(client: httpx.Client, path: str, token: str | None, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.get(f"/vercel{path}", params=params, headers=headers)


def test_user_deployments_and_project(client: httpx.Client, state: SandboxState) -> None:
    token, project = state.platform.vercel_token, state.platform.vercel_project_id
    user = get(client, "/v2/user", token)
    assert user.json()["user"]["id"]
    for version in ("v6", "v7"):
        deployments = get(
            client, f"/{version}/deployments", token, projectId=project, limit="1", target="production"
        )
        [latest] = deployments.json()["deployments"]
        assert (latest["state"], latest["target"]) == ("READY", "production")
    assert get(client, f"/v9/projects/{project}", token).json()["id"] == project
    assert get(client, "/v9/projects/nope", token).status_code == 404
    limit, remaining = int(user.headers["X-RateLimit-Limit"]), int(user.headers["X-RateLimit-Remaining"])
    assert remaining / limit > 0.5
    assert int(user.headers["X-RateLimit-Reset"]) > 1_700_000_000


def test_tokens_limits_and_failed_deployment(client: httpx.Client, state: SandboxState) -> None:
    assert get(client, "/v2/user", None).json()["error"]["missingToken"] is True
    invalid = get(client, "/v2/user", "nope")
    assert (invalid.status_code, invalid.json()["error"]["invalidToken"]) == (403, True)
    token = state.platform.vercel_token
    state.add_fault("vercel", "deployment_error")
    [latest] = get(client, "/v6/deployments", token, projectId=state.platform.vercel_project_id).json()[
        "deployments"
    ]
    assert latest["state"] == "ERROR"
    state.add_fault("vercel", "near_limit")
    near = get(client, "/v2/user", token)
    assert int(near.headers["X-RateLimit-Remaining"]) / int(near.headers["X-RateLimit-Limit"]) < 0.1
    state.add_fault("vercel", "rate_limited")
    limited = get(client, "/v2/user", token)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert limited.json()["error"]["limit"]["remaining"] == 0
