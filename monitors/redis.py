"""Redis: PING latency, memory headroom, evictions and rejections since the last run."""

from __future__ import annotations

import time
from typing import Any, ClassVar

import redis.asyncio as aioredis
from redis.exceptions import AuthenticationError, ConnectionError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeout

from healthmon.monitors.base import Monitor, Target
from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import Outcome, Tier

# Below this, allocator overhead dominates and the fragmentation ratio of an almost empty
# server reads as 5-15 without meaning anything: reporting it would page people for nothing.
FRAGMENTATION_MIN_USED_BYTES = 64 * 1024 * 1024


def _delta(current: int, previous: Any) -> int | None:
    """Growth of a counter since the last run; a restart resets counters, so count from zero."""
    if not isinstance(previous, int | float):
        return None
    return current - int(previous) if current >= previous else current


def _pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 1) if whole > 0 else None


class RedisMonitor(Monitor):
    uses_previous = True  # counters such as evictions are judged by their growth since the last check
    service = "redis"
    tier = Tier.CRITICAL
    required = ("url",)
    default_timeout_s = 2.5
    description = "PING, then INFO (and CONFIG GET maxclients on servers that do not report it)"
    metrics: ClassVar[tuple[str, ...]] = (
        "latency_ms",
        "connect_ms",
        "memory_used_pct",
        "used_memory_bytes",
        "evicted_keys_delta",
        "rejected_connections_delta",
        "mem_fragmentation_ratio",
        "clients_used_pct",
        "connected_clients",
        "hit_ratio_pct",
    )

    async def check(self, target: Target, resources: BatchResources) -> Outcome:
        timeout = float(target.settings.get("connect_timeout_s", 2.0))
        client = aioredis.Redis.from_url(
            target.settings["url"],
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry_on_timeout=False,
            single_connection_client=True,
        )
        info: dict[str, Any] = {}
        try:
            t0 = time.perf_counter()
            await client.ping()  # connects, authenticates, selects the db
            connect_ms = (time.perf_counter() - t0) * 1000
            t0 = time.perf_counter()
            await client.ping()
            latency_ms = (time.perf_counter() - t0) * 1000
            info["connect_ms"] = round(connect_ms, 2)
            info.update(await client.info())
            if "maxclients" not in info:
                try:
                    info["maxclients"] = int((await client.config_get("maxclients")).get("maxclients") or 0)
                except ResponseError:
                    pass  # CONFIG is often renamed or disabled on managed Redis
        except AuthenticationError:
            return Outcome.unhealthy("authentication failed", error="auth")
        except RedisTimeout:
            return Outcome.unhealthy(f"no answer within {timeout:g}s", error="timeout")
        except ConnectionError as exc:
            text = str(exc).lower()
            if "refused" in text or "error 111 " in text or "connect call failed" in text:
                return Outcome.unhealthy("connection refused", error="connect")
            if "auth" in text or "noauth" in text:
                return Outcome.unhealthy("authentication required", error="auth")
            return Outcome.unhealthy(f"connection failed: {str(exc)[:160]}", error="connect")
        except ResponseError as exc:
            if "NOAUTH" in str(exc) or "WRONGPASS" in str(exc):
                return Outcome.unhealthy("authentication failed", error="auth")
            return Outcome.unhealthy(f"error reply: {str(exc)[:160]}", error="protocol")
        except RedisError as exc:
            return Outcome.unhealthy(f"redis error: {str(exc)[:160]}", error="protocol")
        finally:
            await client.aclose()
        return self._decide(info, latency_ms, target.previous)

    def _decide(self, info: dict[str, Any], latency_ms: float, previous: Any) -> Outcome:
        used = int(info.get("used_memory", 0))
        maxmemory = int(info.get("maxmemory", 0))  # 0 means no limit
        evicted = int(info.get("evicted_keys", 0))
        rejected = int(info.get("rejected_connections", 0))
        hits, misses = int(info.get("keyspace_hits", 0)), int(info.get("keyspace_misses", 0))
        clients, maxclients = int(info.get("connected_clients", 0)), int(info.get("maxclients", 0) or 0)
        frag = info.get("mem_fragmentation_ratio")

        hit_delta, miss_delta = (
            _delta(hits, previous.get("keyspace_hits_total")),
            _delta(misses, previous.get("keyspace_misses_total")),
        )
        if hit_delta is not None and miss_delta is not None and hit_delta + miss_delta > 0:
            hit_ratio = _pct(hit_delta, hit_delta + miss_delta)
        else:
            hit_ratio = _pct(hits, hits + misses)

        details: dict[str, Any] = {
            "connect_ms": info.get("connect_ms"),
            "redis_version": info.get("redis_version"),
            "used_memory_bytes": used,
            "maxmemory_bytes": maxmemory,
            "maxmemory_policy": info.get("maxmemory_policy"),
            "memory_used_pct": _pct(used, maxmemory),
            "mem_fragmentation_ratio": frag if used >= FRAGMENTATION_MIN_USED_BYTES else None,
            "mem_fragmentation_ratio_raw": frag,
            "connected_clients": clients,
            "maxclients": maxclients or None,
            "clients_used_pct": _pct(clients, maxclients),
            "evicted_keys_total": evicted,
            "evicted_keys_delta": _delta(evicted, previous.get("evicted_keys_total")),
            "rejected_connections_total": rejected,
            "rejected_connections_delta": _delta(rejected, previous.get("rejected_connections_total")),
            "keyspace_hits_total": hits,
            "keyspace_misses_total": misses,
            "hit_ratio_pct": hit_ratio,
        }
        if maxmemory and used >= maxmemory and info.get("maxmemory_policy") == "noeviction":
            return Outcome.unhealthy("memory full with noeviction: writes are refused", latency_ms, **details)
        return Outcome.healthy(latency_ms, **details)
