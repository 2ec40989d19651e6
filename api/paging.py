"""The service route's pages: `limit`, and an opaque `cursor` naming where the last page ended.

Targets are listed in tenant-id order (a platform service has one target, on the first page),
so a cursor is the last tenant id given, base64url-encoded: a page after it starts at the next
tenant id, whatever was added or removed meanwhile (no target is listed twice or skipped
because another one came or went), and a cursor past the last tenant gives an empty page.
"""

from __future__ import annotations

import base64
import binascii

from healthmon.api.inputs import is_tenant_id

#: a page of 200 targets with their details is ~65 KB and ~10 ms of the API's CPU at 10,000
#: tenants (benchmarks/api_matrix.py); 5,000 is ~1.6 MB and ~0.3 s
DEFAULT_LIMIT = 200
MAX_LIMIT = 5000
_PREFIX = "t:"


class CursorError(ValueError):
    """A cursor this API did not give out."""


def next_cursor(last_tenant: str) -> str:
    return base64.urlsafe_b64encode((_PREFIX + last_tenant).encode()).decode().rstrip("=")


def read_cursor(cursor: str) -> str:
    """The tenant id a cursor names; CursorError when it is not one of ours."""
    problem = "not a cursor this API gave out: pass `next_cursor` of the previous page as it is"
    try:
        text = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise CursorError(problem) from None
    tenant = text.removeprefix(_PREFIX)
    if not text.startswith(_PREFIX) or not is_tenant_id(tenant):
        raise CursorError(problem)
    return tenant
