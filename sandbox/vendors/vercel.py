"""Vercel REST API: user, deployments (v6/v7) and projects, with rate-limit headers."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from healthmon.sandbox.faults import Fault
from healthmon.sandbox.limits import calls_remaining, retry_after
from healthmon.sandbox.pipeline import Call, Vendor, serves
from healthmon.sandbox.responses import bearer, json_response, now

RATE_LIMIT = 100
RESET_WINDOW_S = 60


def _forbidden(flag: str) -> Response:
    return json_response({"error": {"code": "forbidden", "message": "Not authorized", flag: True}}, 403)


class Vercel(Vendor):
    service = "vercel"
    prefix = "/vercel"

    def _deployment(self, call: Call) -> dict[str, Any]:
        platform = self.state.platform
        fault = call.fault("deployment_error")
        state = fault.params["state"] if fault is not None else "READY"
        created = int((now() - (fault.params["age_s"] if fault is not None else 3600)) * 1000)
        deployment: dict[str, Any] = {
            "uid": "dpl_sandbox000000000000000001",
            "name": platform.vercel_project_name,
            "projectId": platform.vercel_project_id,
            "url": f"{platform.vercel_project_name}-abc123.vercel.app",
            "created": created,
            "createdAt": created,
            "buildingAt": created + 1_000,
            "ready": created + 60_000 if state == "READY" else None,
            "state": state,
            "readyState": state,
            "type": "LAMBDAS",
            "target": "production",
            "source": "git",
            "creator": {"uid": "usr_sandbox", "username": "sandbox"},
            "meta": {
                "githubCommitSha": "0123456789abcdef0123456789abcdef01234567",
                "githubCommitRef": "main",
            },
        }
        if state == "ERROR":
            deployment["errorCode"] = "BUILD_FAILED"
            deployment["errorMessage"] = 'Command "npm run build" exited with 1'
        return deployment

    @serves("/v2/user")
    async def user(self, call: Call) -> Response:
        return json_response(
            {
                "user": {
                    "id": "usr_sandbox",
                    "email": "ops@sandbox.example",
                    "name": "Sandbox Ops",
                    "username": "sandbox",
                    "avatar": None,
                    "defaultTeamId": "team_sandbox",
                    "softBlock": None,
                }
            }
        )

    def _is_project(self, value: str | None) -> bool:
        platform = self.state.platform
        return value in (platform.vercel_project_id, platform.vercel_project_name)

    @serves("/v6/deployments")
    @serves("/v7/deployments")
    async def deployments(self, call: Call) -> Response:
        query = call.request.query_params
        project = query.get("projectId")
        target = query.get("target")
        matches = (project is None or self._is_project(project)) and target in (None, "production")
        deployments = [self._deployment(call)] if matches else []
        created = deployments[0]["created"] if deployments else None
        return json_response(
            {
                "deployments": deployments,
                "pagination": {
                    "count": len(deployments),
                    "next": created - 600_000 if created else None,
                    "prev": None,
                },
            }
        )

    @serves("/v9/projects/{id_or_name}")
    async def project(self, call: Call) -> Response:
        if not self._is_project(call.request.path_params["id_or_name"]):
            return json_response({"error": {"code": "not_found", "message": "Project not found"}}, 404)
        platform = self.state.platform
        deployment = self._deployment(call)
        return json_response(
            {
                "id": platform.vercel_project_id,
                "name": platform.vercel_project_name,
                "framework": "nextjs",
                "accountId": "team_sandbox",
                "latestDeployments": [deployment],
                "targets": {"production": deployment},
                "createdAt": deployment["created"] - 86_400_000,
                "updatedAt": deployment["created"],
            }
        )

    async def refuse(self, call: Call) -> Response | None:
        token = bearer(call.request)
        if token is None:
            return _forbidden("missingToken")
        if token != self.state.platform.vercel_token:
            return _forbidden("invalidToken")
        return None

    def http_error(self, call: Call, fault: Fault) -> Response:
        status = fault.params["status"]
        codes = {400: "bad_request", 403: "forbidden", 404: "not_found"}
        code = codes.get(status, "internal_server_error")
        message = fault.params["error"] or (
            "An unexpected internal error occurred" if status >= 500 else code
        )
        return json_response({"error": {"code": code, "message": message}}, status)

    def rate_limited(self, call: Call, fault: Fault) -> Response:
        retry = fault.params["retry_after"]
        reset_s = now() + (RESET_WINDOW_S if retry is None else retry)
        limit = {"remaining": 0, "reset": int(reset_s), "resetMs": int(reset_s * 1000), "total": RATE_LIMIT}
        return json_response(
            {"error": {"code": "rate_limited", "message": "Rate limit exceeded", "limit": limit}},
            429,
            retry_after(fault),
        )

    def revoked(self, call: Call, fault: Fault) -> Response:
        return _forbidden("invalidToken")

    def decorate(self, call: Call, response: Response) -> None:
        headers = response.headers
        headers["X-RateLimit-Limit"] = str(RATE_LIMIT)
        headers["X-RateLimit-Remaining"] = str(calls_remaining(call, RATE_LIMIT))
        headers["X-RateLimit-Reset"] = str(int(now()) + RESET_WINDOW_S)
