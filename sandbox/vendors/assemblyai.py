"""AssemblyAI: `GET /v2/transcript` with the raw API key in `Authorization` (no Bearer)."""

from __future__ import annotations

from typing import ClassVar

from starlette.responses import Response

from healthmon.sandbox.faults import Fault
from healthmon.sandbox.limits import retry_after
from healthmon.sandbox.pipeline import Call, Vendor, serves
from healthmon.sandbox.responses import count_param, iso, json_response, now

AUTH_ERROR = {"error": "Authentication error, API token missing/invalid"}
NEGATIVE_BALANCE = {
    "error": "Your current account balance is negative. Please top up to continue using the API. "
    "https://www.assemblyai.com/dashboard/account/billing"
}
DOWNLOAD_ERROR = (
    "Download error, unable to download https://example.invalid/audio.mp3. "
    "Please make sure the file exists and is accessible from the internet."
)


class AssemblyAI(Vendor):
    service = "assemblyai"
    prefix = "/assemblyai"
    #: status of the newest transcript; tests set "error" (there is no fault kind for it)
    latest_status: ClassVar[str] = "completed"

    @serves("/v2/transcript")
    async def transcripts(self, call: Call) -> Response:
        if call.fault("balance_negative") is not None:
            return json_response(NEGATIVE_BALANCE, 400)
        limit = count_param(call.request, "limit", 10, most=200)
        if limit is None:
            return json_response({"error": "limit must be an integer"}, 400)
        base = str(call.request.base_url).rstrip("/") + "/v2/transcript"
        finished = now() - 600
        transcripts = [
            {
                "id": f"sandbox-transcript-{index:04d}",
                "resource_url": f"{base}/sandbox-transcript-{index:04d}",
                "status": status,
                "created": iso(finished - 60 - index * 300)[:-1],
                "completed": iso(finished - index * 300)[:-1],
                "audio_url": "https://example.invalid/audio.mp3",
                "error": DOWNLOAD_ERROR if status == "error" else None,
            }
            for index in range(min(limit, 2))
            for status in [self.latest_status if index == 0 else "completed"]
        ]
        return json_response(
            {
                "page_details": {
                    "limit": limit,
                    "result_count": len(transcripts),
                    "current_url": f"{base}?limit={limit}",
                    "prev_url": f"{base}?limit={limit}&before_id=sandbox-transcript-0001",
                    "next_url": None,
                },
                "transcripts": transcripts,
            }
        )

    async def refuse(self, call: Call) -> Response | None:
        # The key is sent bare; "Bearer <key>" is a different string and is refused like any bad key.
        if call.request.headers.get("authorization") != self.state.platform.assemblyai_key:
            return json_response(AUTH_ERROR, 401)
        return None

    def http_error(self, call: Call, fault: Fault) -> Response:
        return json_response(
            {"error": fault.params["error"] or "Internal server error"}, fault.params["status"]
        )

    def rate_limited(self, call: Call, fault: Fault) -> Response:
        return json_response({"error": "Too Many Requests"}, 429, retry_after(fault))

    def revoked(self, call: Call, fault: Fault) -> Response:
        return json_response(AUTH_ERROR, 401)
