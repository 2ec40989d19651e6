"""What the health routes need to know of the tenants, read once per TTL instead of per request.

At 10,000 tenants, reading which tenant is enabled with which integration (the master status's
"expected" targets) and every display name costs ~130 ms of CPU and a scan of the tenants
table, whose rows carry the encrypted credentials (10 MB): far over the master status's 10 ms.
No cheaper question tells whether the table changed (it has no index on `updated_at`), so the
API keeps one snapshot per process, read again when it is older than TTL_S (the bound the
matrix view has without Redis, MATRIX_TTL_S) and at once after this API changed a tenant.
A snapshot past its TTL is still served while one thread reads the next one, so no request
waits for the read except the very first.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine

from healthmon.monitors.result import TargetKey
from healthmon.storage.queries import MATRIX_TTL_S
from healthmon.storage.tenants import has_name, list_tenants, targets_of

TTL_S = MATRIX_TTL_S


@dataclass(frozen=True)
class Tenants:
    #: id -> display name, for the tenants that have one
    names: dict[str, str]
    #: a digest of `names` (part of the matrix answer's ETag: the answer carries the names)
    names_version: str
    #: per scheduled service, the targets that should have a fresh result
    #: (storage.tenants.targets_of)
    expected: dict[str, frozenset[TargetKey]]

    def expected_of(self, services: Sequence[str]) -> set[TargetKey]:
        return {key for s in services for key in self.expected.get(s, frozenset())}


def read_tenants(engine: Engine, services: Sequence[str]) -> Tenants:
    """One read of the tenants table: names and the expected targets of `services`."""
    tenants = list_tenants(engine, enabled_only=False)
    names = {t.id: t.name for t in tenants if has_name(t.id, t.name)}
    by_service: dict[str, set[TargetKey]] = {service: set() for service in services}
    for target in targets_of(tenants, services):
        by_service[target[0]].add(target)
    expected = {service: frozenset(found) for service, found in by_service.items()}
    digest = hashlib.blake2b(json.dumps(sorted(names.items())).encode(), digest_size=8).hexdigest()
    return Tenants(names, digest, expected)


class TenantSnapshots:
    """One per app: the current snapshot, refreshed in the background once older than `ttl_s`."""

    def __init__(self, ttl_s: float = TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._current: tuple[float, tuple[str, ...], Tenants] | None = None
        self._refreshing = False
        self._forgotten = 0

    def forget(self) -> None:
        """The next request reads the tenants again (this API just changed one)."""
        with self._lock:
            self._current = None
            self._forgotten += 1

    def _read(self, engine: Engine, services: tuple[str, ...]) -> Tenants:
        with self._lock:
            forgotten = self._forgotten
        started = self._clock()
        found = read_tenants(engine, services)
        with self._lock:
            current = self._current
            if current is not None and current[1] == services and current[2] == found:
                # nothing changed: the same object, so that what was counted from it is kept
                found = current[2]
            # a read begun before a forget() may predate the change: it is not kept
            if forgotten == self._forgotten:
                self._current = (started, services, found)
        return found

    def _refresh(self, engine: Engine, services: tuple[str, ...]) -> None:
        try:
            self._read(engine, services)
        except Exception:  # the next request tries again; this one keeps the old snapshot
            pass
        finally:
            with self._lock:
                self._refreshing = False

    def get(self, engine: Engine, services: Sequence[str]) -> Tenants:
        wanted = tuple(services)
        current = self._current
        if current is None or current[1] != wanted:
            return self._read(engine, wanted)
        read_at, _services, found = current
        if self._clock() - read_at > self._ttl_s:
            with self._lock:
                start = not self._refreshing
                self._refreshing = True
            if start:
                threading.Thread(target=self._refresh, args=(engine, wanted), daemon=True).start()
        return found
