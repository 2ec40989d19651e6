"""The status cache: Redis with per-tier TTLs, an in-process cache when Redis is absent or down."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import redis
from redis.exceptions import RedisError, ResponseError

from healthmon.monitors import json_codec

log = logging.getLogger(__name__)

KEY_PREFIX = "healthmon:status:"
#: where each tier run announces its status changes, one JSON message per change, for live views
CHANGES_CHANNEL = "healthmon:status-changes"


#: SET each key (KEYS) to its value (ARGV[2..]) with the TTL in seconds (ARGV[1])
SET_MANY_SCRIPT = """
for i, key in ipairs(KEYS) do
    redis.call('SET', key, ARGV[i + 1], 'EX', ARGV[1])
end
return #KEYS
"""


def cache_key(service: str, tenant_id: str | None) -> str:
    return f"{KEY_PREFIX}{service}:{tenant_id or '-'}"


class StatusCache(Protocol):
    @property
    def backend(self) -> str: ...

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]: ...

    def set_many(self, entries: Mapping[str, dict[str, Any]], ttl_s: int) -> None: ...

    def delete(self, keys: Iterable[str]) -> None: ...

    def publish(self, channel: str, messages: Iterable[Mapping[str, Any]]) -> int: ...


class MemoryCache:
    backend = "memory"

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._data: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        now = self._clock()
        found: dict[str, dict[str, Any]] = {}
        with self._lock:
            for key in keys:
                entry = self._data.get(key)
                if entry is None:
                    continue
                if entry[0] <= now:
                    del self._data[key]
                    continue
                found[key] = entry[1]
        return found

    def set_many(self, entries: Mapping[str, dict[str, Any]], ttl_s: int) -> None:
        expires = self._clock() + ttl_s
        with self._lock:
            for key, value in entries.items():
                self._data[key] = (expires, value)

    def delete(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._data.pop(key, None)

    def publish(self, channel: str, messages: Iterable[Mapping[str, Any]]) -> int:
        """Nobody in another process can listen to an in-process cache: nothing to do."""
        return 0


class RedisCache:
    """Redis first; on any Redis error the in-process cache serves until Redis answers again.

    A cache must never stop checks or alerts, so every failure is swallowed here, logged
    once per outage, and retried after `retry_after_s`.
    """

    def __init__(self, url: str, timeout_s: float = 0.5, retry_after_s: float = 10.0) -> None:
        self._client = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, retry_on_timeout=False
        )
        self._fallback = MemoryCache()
        self._down_until = 0.0
        self._retry_after_s = retry_after_s
        self._set_script = self._client.register_script(SET_MANY_SCRIPT)
        #: False once this server refused scripts (an ACL, a managed Redis): SETs in a pipeline
        self._scripts = True

    @property
    def backend(self) -> str:
        return "memory" if self._is_down() else "redis"

    def _is_down(self) -> bool:
        return time.monotonic() < self._down_until

    def _mark_down(self, exc: Exception) -> None:
        if not self._is_down():
            log.warning("redis cache unavailable, using the in-process cache: %s", type(exc).__name__)
        self._down_until = time.monotonic() + self._retry_after_s

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        keys = list(keys)
        if not keys:
            return {}
        if not self._is_down():
            try:
                values = self._client.mget(keys)
                return {k: json_codec.loads(v) for k, v in zip(keys, values, strict=True) if v is not None}
            except RedisError as exc:
                self._mark_down(exc)
        return self._fallback.get_many(keys)

    def set_many(self, entries: Mapping[str, dict[str, Any]], ttl_s: int) -> None:
        if not entries:
            return
        # the fallback always holds the latest too, so a Redis outage starts from fresh data
        self._fallback.set_many(entries, ttl_s)
        if self._is_down():
            return
        try:
            values = [json_codec.dumps_bytes(v) for v in entries.values()]
            if self._scripts:
                try:
                    # one command for the batch: ~3 us of this process's CPU per key, against
                    # ~10-15 us for a pipelined SET per key (redis-py builds each command)
                    self._set_script(keys=list(entries), args=[ttl_s, *values])
                    return
                except ResponseError:
                    self._scripts = False
            pipe = self._client.pipeline(transaction=False)
            for key, value in zip(entries, values, strict=True):
                pipe.execute_command("SET", key, value, "EX", ttl_s)
            pipe.execute()
        except RedisError as exc:
            self._mark_down(exc)

    def delete(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        self._fallback.delete(keys)
        if keys and not self._is_down():
            try:
                self._client.delete(*keys)
            except RedisError as exc:
                self._mark_down(exc)

    def publish(self, channel: str, messages: Iterable[Mapping[str, Any]]) -> int:
        """PUBLISH each message as JSON; how many were sent (0 while Redis is down: live views
        are a convenience, the store and the cache stay the truth)."""
        payloads = [json_codec.dumps(m) for m in messages]
        if not payloads or self._is_down():
            return 0
        try:
            pipe = self._client.pipeline(transaction=False)
            for payload in payloads:
                pipe.publish(channel, payload)
            pipe.execute()
        except RedisError as exc:
            self._mark_down(exc)
            return 0
        return len(payloads)

    def close(self) -> None:
        self._client.close()


def make_cache(redis_url: str | None) -> StatusCache:
    return RedisCache(redis_url) if redis_url else MemoryCache()
